"""The ledger under concurrency and crashes: two instances in one consumer group, and
SIGKILLs during a 100,000-event ingest, each compared with an uninterrupted single ledger
reading the same records (its own consumer group, database and journal topic)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from bench.compare import Snapshot, relayed, snapshot
from bench.compare import compare as compare_runs
from bench.workload import workload
from demo.publish import Offsets, publish
from deploy.infra import ServiceProcess, create_topics, wait_for_consumer_group
from tests.conftest import KafkaTarget, create_database
from tests.helpers import fetch, fresh_port, wait_for

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
        await wait_for(lambda: relayed(self.dsn), timeout=120, what="journal relayed")

    async def snapshot(self) -> Snapshot:
        return await snapshot(self.dsn, self.kafka.bootstrap, self.journal)


async def compare(reference: LedgerRun, other: LedgerRun) -> None:
    """The same verdicts, event store and journal per department and topic (records on
    different topics have no order between them)."""
    expected = await reference.snapshot()
    assert expected.events and expected.rejections
    found = compare_runs(expected, await other.snapshot())
    assert found.equal, found


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
