"""The ledger under concurrency and crashes: two instances in one consumer group, and
SIGKILLs during a 100,000-event ingest, each compared with an uninterrupted single ledger
reading the same records (its own consumer group, database and journal topic)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from demo.publish import Offsets, publish
from deploy.infra import ServiceProcess, create_topics, wait_for_consumer_group
from tests.conftest import KafkaTarget, create_database
from tests.helpers import fetch, fresh_port, read_topic, wait_for
from tests.workload import workload

pytestmark = pytest.mark.integration


class LedgerRun:
    """Ledger processes on their own database, consumer group and outbound topics."""

    def __init__(self, name: str, dsn: str, kafka: KafkaTarget, logs: Path) -> None:
        self.name, self.dsn, self.kafka, self.logs = name, dsn, kafka, logs
        self.journal = f"{kafka.topics.ledger_journal}.{name}"
        self.env = {
            **kafka.env(),
            "DATABASE_URL": dsn,
            "LEDGER_GROUP_ID": f"ledger-{name}",
            "LEDGER_HOLD_SECONDS": "0",  # verdicts then depend only on the order of records
            "TOPIC_LEDGER_JOURNAL": self.journal,
            "TOPIC_LEDGER_REJECTED": f"{kafka.topics.ledger_rejected}.{name}",
        }
        self.started = 0

    def start(self) -> ServiceProcess:
        self.started += 1
        env = {**self.env, "LEDGER_HTTP_PORT": str(fresh_port())}  # instances side by side
        return ServiceProcess("ledger", env, self.logs / f"{self.name}.log").start()

    async def finish(self, offsets: Offsets) -> None:
        """Wait until every record is decided and the journal fully relayed."""
        await wait_for_consumer_group(
            self.kafka.bootstrap, self.env["LEDGER_GROUP_ID"], offsets, 300
        )

        async def relayed() -> bool:
            rows = await fetch(
                self.dsn,
                """SELECT (SELECT coalesce(max(position), 0) FROM ledger.events)
                          = (SELECT position FROM ledger.relay_cursors WHERE name = 'journal')
                          AS done""",
            )
            return bool(rows[0]["done"])

        await wait_for(relayed, timeout=120, what="journal relayed")

    async def store(self) -> dict[str, Any]:
        events = await fetch(
            self.dsn,
            """SELECT event_id, stream_id, stream_version, content_hash, source_topic,
                      source_partition, source_offset FROM ledger.events ORDER BY event_id""",
        )
        rejections = await fetch(
            self.dsn,
            """SELECT source_topic, source_partition, source_offset, reason, event_id
               FROM ledger.rejections ORDER BY 1, 2, 3""",
        )
        return {"events": events, "rejections": rejections}

    async def journal_as_applied(self) -> dict[str, list[str]]:
        """Each department's journal as a consumer applies it (positions already seen are
        skipped); it must equal the event store's order for that department."""
        applied: dict[str, list[str]] = {}
        last: dict[str, int] = {}
        for entry in await read_topic(self.kafka.bootstrap, self.journal):
            department = entry["event"]["department"]
            if entry["position"] > last.get(department, 0):
                last[department] = entry["position"]
                applied.setdefault(department, []).append(entry["event"]["event_id"])
        stored = await fetch(
            self.dsn, "SELECT department, event_id FROM ledger.events ORDER BY position"
        )
        expected: dict[str, list[str]] = {}
        for row in stored:
            expected.setdefault(row["department"], []).append(row["event_id"])
        assert applied == expected, f"{self.name}: the journal skips or reorders events"
        return applied


def per_topic(journal: dict[str, list[str]], store: dict[str, Any]) -> dict[tuple[str, str], list]:
    """A department's journal split by source topic: the order the two runs must agree on
    (records on different topics have no order between them)."""
    topic_of = {e["event_id"]: e["source_topic"] for e in store["events"]}
    split: dict[tuple[str, str], list[str]] = {}
    for department, ids in journal.items():
        for event_id in ids:
            split.setdefault((department, topic_of[event_id]), []).append(event_id)
    return split


async def compare(reference: LedgerRun, other: LedgerRun) -> None:
    ref_store, other_store = await reference.store(), await other.store()
    assert len(ref_store["events"]) > 0 and len(ref_store["rejections"]) > 0
    assert other_store == ref_store
    ref_journal = await reference.journal_as_applied()
    other_journal = await other.journal_as_applied()
    assert per_topic(other_journal, other_store) == per_topic(ref_journal, ref_store)


async def setup(
    pg_dsn: str, kafka: KafkaTarget, tmp_path: Path, total: int
) -> tuple[LedgerRun, LedgerRun, Offsets]:
    runs = [
        LedgerRun(name, await create_database(pg_dsn), kafka, tmp_path)
        for name in ("reference", "tested")
    ]
    await create_topics(kafka.bootstrap, [run.journal for run in runs])
    _, offsets = await publish(kafka.bootstrap, workload(total), kafka.topics)
    return runs[0], runs[1], offsets


async def test_two_ledger_instances_agree_with_one(
    pg_dsn: str, kafka: KafkaTarget, tmp_path: Path
) -> None:
    reference, tested, offsets = await setup(pg_dsn, kafka, tmp_path, 30_000)
    processes = [reference.start(), tested.start()]
    try:
        await asyncio.sleep(2)
        processes.append(tested.start())  # joins mid-stream: partitions move between them
        await asyncio.sleep(4)
        processes[1].stop()  # and one leaves: its partitions move back
        processes.append(tested.start())
        await reference.finish(offsets)
        await tested.finish(offsets)
        await compare(reference, tested)
    finally:
        for process in processes:
            process.stop()


async def test_sigkill_during_ingest_loses_and_duplicates_nothing(
    pg_dsn: str, kafka: KafkaTarget, tmp_path: Path
) -> None:
    reference, tested, offsets = await setup(pg_dsn, kafka, tmp_path, 100_000)
    processes = [reference.start(), tested.start()]
    rnd = random.Random(7)
    try:
        for _ in range(5):
            await asyncio.sleep(rnd.uniform(2.0, 6.0))
            processes[-1].kill()
            processes.append(tested.start())
        await reference.finish(offsets)
        await tested.finish(offsets)
        await compare(reference, tested)
        stored = await fetch(tested.dsn, "SELECT count(*) AS n FROM ledger.events")
        assert stored[0]["n"] > 50_000  # ingest was still running when the kills came

        # Kafka hands every record to the ledger again (a new consumer group here; a lost
        # commit or a rebalance in production): no verdict changes, nothing is counted twice
        tested.env["LEDGER_GROUP_ID"] += "-again"
        processes.append(tested.start())
        await tested.finish(offsets)
        await compare(reference, tested)
    finally:
        for process in processes:
            process.stop()
