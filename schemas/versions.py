"""Event types as they travel, in every version (docs/contract.md section 3, "Versions").

The union here is what the ledger validates each record against and what the journal
carries: every current type of schemas.events, and the earlier versions still accepted
(``DisbursedV1``), picked by ``event_type`` and then ``schema_version``; a version its type
does not have is rejected as ``unsupported_schema_version``, naming the versions there are.

The event store keeps each event in the version it was published in (its canonical form and
content hash, so "the same event again", depend on it); ``upcast`` turns an earlier version
into the current one where an event is used: the ledger's rules (services/ledger/records.py)
and the projections (services/performance/projector.py), which know only the current one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias, Union, get_args

from pydantic import Field, TypeAdapter

from schemas.events import ALL_EVENTS, Disbursed, Envelope, PaymentData, PositiveMoney


class DisbursedDataV1(PaymentData):
    amount: PositiveMoney = Field(description="Yuan (CNY)")
    economic_class: str = Field(
        pattern=r"^[0-9]{3,7}$",
        description="GFS-style economic classification, class and item in one code: 301 wages, "
        "302 goods and services, 30201 office expenses, ...",
        examples=["301"],
    )


class DisbursedV1(Envelope):
    """Money spent from a line, version 1 (still accepted; read as version 2)."""

    event_type: Literal["Disbursed"]
    data: DisbursedDataV1


EARLIER_VERSIONS: tuple[type[Envelope], ...] = (DisbursedV1,)


def _by_type(models: tuple[type[Envelope], ...]) -> dict[str, list[type[Envelope]]]:
    """The models of each event type, in the order given."""
    found: dict[str, list[type[Envelope]]] = {}
    for model in models:
        found.setdefault(get_args(model.model_fields["event_type"].annotation)[0], []).append(model)
    return found


# event type -> its versions, for those with more than version 1
VERSIONS: dict[str, tuple[int, ...]] = {
    event_type: tuple(sorted(get_args(m.model_fields["schema_version"].annotation)[0] for m in ms))
    for event_type, ms in _by_type(ALL_EVENTS + EARLIER_VERSIONS).items()
    if len(ms) > 1
}


def upcast(event: Envelope) -> Envelope:
    """The event in the current version of its type (itself if it is)."""
    if not isinstance(event, DisbursedV1):
        return event
    data = event.data
    code = data.economic_class
    return Disbursed.model_validate(
        {
            **event.model_dump(exclude={"schema_version", "data"}),
            "schema_version": 2,
            "data": {
                **data.model_dump(exclude={"amount", "economic_class"}),
                "amount": {"value": f"{data.amount:f}", "currency": "CNY"},
                "economic_class": code[:3],
                "economic_item": code[3:] or None,
            },
        }
    )


def union_of(models: tuple[type[Envelope], ...]) -> Any:
    """The models as one union picked by ``event_type``, the versions of a type by
    ``schema_version`` within it (both in pydantic-core)."""
    members = [
        versions[0] if len(versions) == 1
        else Annotated[Union[tuple(versions)], Field(discriminator="schema_version")]  # noqa: UP007
        for versions in _by_type(models).values()
    ]  # fmt: skip
    return Annotated[Union[tuple(members)], Field(discriminator="event_type")]  # noqa: UP007


AnyEvent: TypeAlias = union_of(ALL_EVENTS + EARLIER_VERSIONS)  # type: ignore[valid-type]
event_adapter: TypeAdapter[Envelope] = TypeAdapter(AnyEvent)
