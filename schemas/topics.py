"""The Kafka topics of the contract (docs/contract.md sections 1 and A): their default names
and the sentences that describe them.

``services.common.settings.Topics`` takes its defaults from ``TOPIC_DEFAULTS`` (and lets the
environment rename each topic); ``schemas.asyncapi`` documents the topics under these names
with these sentences, which docs/contract.md carries word for word (a unit test checks it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TopicNames(BaseModel):
    """The six topic names, as the contract names them by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget_events: str = "budget.events"
    procurement_events: str = "procurement.events"
    case_events: str = "case.events"
    evaluation_events: str = "evaluation.events"
    ledger_journal: str = "ledger.journal"
    ledger_rejected: str = "ledger.rejected"


TOPIC_DEFAULTS = TopicNames()

# Who publishes each inbound topic (docs/contract.md section 1, the table).
PUBLISHERS: dict[str, str] = {
    "budget_events": "the finance system (budget authorisation, quota and payment)",
    "procurement_events": "the government procurement system (政府采购)",
    "case_events": "the city-management case platform (网格化 / 数字城管)",
    "evaluation_events": "the reporting gateway, for evaluators' notes and sign-offs",
}

# docs/contract.md section 1
RECORD_VALUE = (
    "Each record value is one JSON event (UTF-8): the envelope of the contract with the "
    "`data` fields of its event type."
)
RECORD_KEY = (
    "Publishers key every record by the department code of its event (UTF-8), so that all "
    "records of one department travel through one partition, in order."
)
NOT_DROPPED = (
    "Nothing is ever dropped silently: a record the ledger does not accept goes to "
    "`ledger.rejected` with its original bytes, where it can be listed, corrected and "
    "resubmitted (`ledger rejections`)."
)
# docs/contract.md section A
JOURNAL = (
    "Every accepted event in ledger order, one `JournalEntry` per record, keyed by department. "
    "Positions are unique and strictly increasing within a department; publication is at "
    "least once, so a consumer applies each position once."
)
REJECTED = (
    "Every inbound record that was not accepted, one `Rejection` per record, keyed by "
    "department when the record named one: the reason code, the offending field, a message, "
    "the source topic, partition and offset, and the original bytes in base64."
)
SUMMARY = (
    "Upstream systems send the ledger Kafka records, and the ledger publishes in return the "
    "journal of accepted events and the rejected records."
)

# every sentence above, for the test that docs/contract.md carries them
SENTENCES: tuple[str, ...] = (
    *PUBLISHERS.values(),
    RECORD_VALUE,
    RECORD_KEY,
    NOT_DROPPED,
    JOURNAL,
    REJECTED,
    SUMMARY,
)
