"""What the ledger counts of its verdicts (services/ledger/observe.py), through the in-memory
store; how the gateway keeps its operation label set small (services/reporting/observe.py);
what a replay serves of its progress (services/performance/observe.py)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client import REGISTRY

from deploy.infra import free_port
from services.ledger import observe
from services.ledger.ingest import ingest_batch
from services.ledger.records import InboundRecord
from services.performance.observe import replay_progress, serve_replay_progress
from services.reporting.observe import MAX_OPERATIONS, Observe
from tests.fakes import FakeLedgerStore
from tests.unit.test_ingest import HOLD, T0, again, arrive, pay
from tests.unit.test_ledger_rules import TOPICS, authorise


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def verdicts() -> dict[tuple[str, str], float]:
    """ledger_events_total by (outcome, event_type), for the types this test sends."""
    types = ["BudgetAuthorised", "FundsArrived", "Disbursed", "unknown"]
    outcomes = ["accepted", "held", "duplicate", "rejected"]
    return {
        (outcome, t): counted("ledger_events_total", outcome=outcome, event_type=t)
        for outcome in outcomes
        for t in types
    }


async def test_each_verdict_is_counted_once_and_a_held_record_once_more_when_it_leaves() -> None:
    store = FakeLedgerStore()
    before, invalid = verdicts(), counted("ledger_rejected_total", reason="invalid_json")

    async def batch(records: list[InboundRecord], minutes: int) -> None:
        decision = await ingest_batch(store, records, TOPICS, HOLD, T0 + timedelta(minutes=minutes))
        observe.decided(decision, records)

    first = authorise(event_id="a1")
    await batch([first, pay("300.00", "pay-early")], 0)  # held: nothing has arrived
    await batch([arrive("100.00", "arr-1")], 1)  # judged again: still held, not counted again
    await batch([arrive("200.00", "arr-2"), again(first, 90)], 2)  # released; a duplicate
    await batch([InboundRecord("budget.events", 0, 91, b"{not json")], 3)

    moved = {key: n - before[key] for key, n in verdicts().items() if n != before[key]}
    assert moved == {
        ("accepted", "BudgetAuthorised"): 1,
        ("accepted", "FundsArrived"): 2,
        ("accepted", "Disbursed"): 1,
        ("held", "Disbursed"): 1,
        ("duplicate", "BudgetAuthorised"): 1,
        ("rejected", "unknown"): 1,
    }
    assert counted("ledger_rejected_total", reason="invalid_json") - invalid == 1


def test_the_operation_label_is_a_graphql_name_among_a_bounded_few() -> None:
    observed = Observe(app=None, routes=[])  # type: ignore[arg-type]
    assert observed._operation(None) == "anonymous"
    assert observed._operation("Evaluation") == "Evaluation"
    assert observed._operation('no spaces; or quotes"') == "other"
    for n in range(MAX_OPERATIONS):
        observed._operation(f"Op{n}")
    assert observed._operation("OneTooMany") == "other"
    assert observed._operation("Evaluation") == "Evaluation"  # known names keep their label


def test_a_replay_serves_its_progress_while_it_runs() -> None:
    port = free_port()
    serve_replay_progress("127.0.0.1", port)  # as `performance replay` with REPLAY_METRICS_PORT
    replay_progress(1200, 5000)
    exposition = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert "performance_replay_events_applied 1200.0" in exposition
    assert "performance_replay_events_expected 5000.0" in exposition
    assert "performance_projection_lag" not in exposition  # the live service's, not the job's
