"""The performance service's handler (``apply_entries``) on the in-memory store: each
journal position applied once per department, cases folded across batches, a failed batch
leaving nothing behind."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.messages import JournalEntry
from services.common.projections import APPLIED_POSITIONS, CASE_DAILY, CASES, LINE_DAILY
from services.performance.handler import apply_entries
from tests.fakes_performance import InMemoryProjections, entry

TZ = ZoneInfo("Asia/Shanghai")


def arrived(position: int, amount: str, department: str = "D1", line: str = "L1") -> JournalEntry:
    return entry(position, "FundsArrived", "2017-03-01T10:00:00+08:00", department,
                 line_id=line, amount=amount)  # fmt: skip


def case(position: int, stage: str, at: str, **data: Any) -> JournalEntry:
    return entry(position, stage, at, case_id="C1", **data)


def arrived_on(store: InMemoryProjections, line: str = "L1") -> Decimal:
    return store.rows(LINE_DAILY)[(line, date(2017, 3, 1))]["arrived"]


async def test_entries_are_applied_once() -> None:
    store = InMemoryProjections()
    batch = [arrived(1, "10.00"), arrived(2, "5.50")]
    assert await apply_entries(store, batch, TZ) == 2
    assert await apply_entries(store, batch, TZ) == 0  # the batch redelivered
    assert arrived_on(store) == Decimal("15.50")
    assert store.rows(APPLIED_POSITIONS) == {("D1",): {"position": 2}}


async def test_a_redelivered_position_is_skipped_and_the_rest_applied() -> None:
    store = InMemoryProjections()
    await apply_entries(store, [arrived(1, "10.00"), arrived(2, "1.00")], TZ)
    # a rebalance hands over mid-batch: positions 1 and 2 come again, with 3
    batch = [arrived(1, "10.00"), arrived(2, "1.00"), arrived(3, "0.25")]
    assert await apply_entries(store, batch, TZ) == 1
    assert arrived_on(store) == Decimal("11.25")


async def test_positions_are_per_department() -> None:
    store = InMemoryProjections()
    await apply_entries(store, [arrived(7, "1.00", "D1")], TZ)
    # D2's entries have lower positions than D1's last one: they are new all the same
    batch = [arrived(3, "2.00", "D2", "L2"), arrived(5, "1.00", "D1"), arrived(8, "4.00", "D1")]
    assert await apply_entries(store, batch, TZ) == 2
    assert store.rows(APPLIED_POSITIONS) == {("D1",): {"position": 8}, ("D2",): {"position": 3}}
    assert (arrived_on(store), arrived_on(store, "L2")) == (Decimal("5.00"), Decimal("2.00"))


async def test_case_stages_are_folded_across_batches() -> None:
    store = InMemoryProjections()
    reported = {"channel": "video", "category": "x", "kind": "event"}
    await apply_entries(store, [case(1, "CaseReported", "2017-03-01T09:00:00+08:00",
                                     **reported)], TZ)  # fmt: skip
    await apply_entries(store, [case(2, "CaseAccepted", "2017-03-01T09:30:00+08:00"),
                                case(3, "CaseFiled", "2017-03-01T10:00:00+08:00",
                                     deadline_at="2017-03-03T10:00:00+08:00")], TZ)  # fmt: skip
    await apply_entries(store, [case(4, "CaseClosed", "2017-03-02T10:00:00+08:00")], TZ)

    row = store.rows(CASES)[("D1", "C1")]
    assert row["accepted_at"] == datetime.fromisoformat("2017-03-01T09:30:00+08:00")
    assert row["closed_at"] == datetime.fromisoformat("2017-03-02T10:00:00+08:00")
    assert (row["channel"], row["fiscal_year"]) == ("video", 2017)
    daily = store.rows(CASE_DAILY)
    first = daily[("D1", 2017, "kind", "event", date(2017, 3, 1))]
    closed = daily[("D1", 2017, "kind", "event", date(2017, 3, 2))]
    assert (first["reported"], first["accepted"], first["filed"]) == (1, 1, 1)
    # known only from the stored case: it was accepted, and filed with a deadline it met
    assert (closed["closed"], closed["closed_accepted"], closed["closed_on_time"]) == (1, 1, 1)
    assert store.transactions == 3


async def test_a_failed_batch_leaves_nothing_behind() -> None:
    store = InMemoryProjections()
    await apply_entries(store, [arrived(1, "1.00")], TZ)
    before = store.rows(LINE_DAILY), store.rows(APPLIED_POSITIONS)
    award = entry(3, "ContractAwarded", "2017-03-01T10:00:00+08:00", procurement_id="P",
                  contract_id="K", supplier="s", amount="9.00")  # fmt: skip
    with pytest.raises(ValueError):  # no line in the award's context
        await apply_entries(store, [arrived(2, "2.00"), award], TZ)
    assert (store.rows(LINE_DAILY), store.rows(APPLIED_POSITIONS)) == before
