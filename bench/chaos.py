"""A chaos run anyone can repeat: the same records through a clean pipeline and through one
under random faults, then one question: was anything lost or counted twice?

    .venv/bin/python -m bench.chaos --events 100000 --faults 5 [--seed 1] [--rate 5000]

The records are the ledger's robustness workload (valid events, records re-sent, event ids
re-used with other content, invalid amounts, case stages out of order; bench/workload.py) with
a fuzzed record (bench/fuzz.py) mixed in every 50th. Each run has its own embedded broker and
database: the clean run one ledger, the performance service and the gateway; the faulted run
two ledgers and the same. An upstream system publishes the records at ``--rate`` a second
while ``--faults`` faults strike at random moments, one after another, from these kinds:

- ``ledger``: SIGKILL of either ledger; ``relay-leader``: of the one that relays the journal
- ``performance``, ``gateway``: SIGKILL
- ``postgres``: PostgreSQL stopped as by a crash (immediate mode), started again
- ``broker``: the memory-only broker restarts empty; the upstream publishes its log again
- ``pause``: a ledger or the performance service stopped (SIGSTOP) longer than its session

A killed process is started again after a random 0.5-5 s, as a supervisor would. At the end
both runs are compared (bench/compare.py): every verdict (accepted, rejected with its reason,
held), the event store with its streams' versions, each department's journal as applied, the
projections' digests and the gateway's figures. It prints
``events N, faults K, lost 0, double 0, digest equal`` and exits 1 on any difference.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.console import Console

from bench import fuzz
from bench.compare import Snapshot, compare, relayed, snapshot
from bench.workload import workload
from deploy.infra import (
    Broker,
    ServiceProcess,
    create_topics,
    free_port,
    restart_postgres,
    start_postgres,
    wait_http,
)
from deploy.stack import wait_until_projected
from services.common.settings import Topics
from services.ledger.store.relay import relay_leader
from services.reporting.access import issue_token

console = Console(soft_wrap=True)
SECRET = "chaos-run-secret-of-at-least-32-bytes"
KINDS = ("ledger", "relay-leader", "performance", "gateway", "postgres", "broker", "pause")
FISCAL_YEAR = 2017  # the workload's
FIGURES = """query ($department: String!, $year: Int!) {
  departmentEvaluation(department: $department, fiscalYear: $year) {
    budget { adjustedBudget arrived spent arrivalRate executionRate }
  }
}"""


def records(events: int, seed: int) -> list[fuzz.Record]:
    """The upstream's log: the workload with a fuzzed record every 50th, each keyed by its
    department (so that every verdict depends only on the order within a partition)."""
    valid = (
        (group, e["department"].encode(), json.dumps(e, ensure_ascii=False).encode())
        for group, e in workload(events - events // 50, seed)
    )
    fuzzed = fuzz.mutants(events // 50, seed, fuzz.base_events(), odd_keys=False)
    return [next(fuzzed) if n % 50 == 49 else next(valid) for n in range(events)]


@dataclass
class Upstream:
    """An upstream system: its own log, published at a pace, and again from its beginning when
    the broker lost it (as a real producer that keeps its outbox would)."""

    log: list[fuzz.Record]
    rate: float
    bootstrap: str
    sent: int = 0
    offsets: fuzz.Offsets = field(default_factory=dict)  # of the broker as it is now
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # held while records are in flight

    async def run(self) -> None:
        started = time.monotonic()
        chunk = max(1, int(self.rate / 10))
        while self.sent < len(self.log):
            async with self.lock:
                batch = self.log[self.sent : self.sent + chunk]
                await self._send(batch)
                self.sent += len(batch)
            await asyncio.sleep(max(0.0, started + self.sent / self.rate - time.monotonic()))

    async def publish_again(self) -> None:
        """Everything sent so far, to a broker that restarted empty (call with the lock)."""
        self.offsets = {}
        await self._send(self.log[: self.sent])

    async def _send(self, batch: list[fuzz.Record]) -> None:
        _, offsets = await fuzz.publish(self.bootstrap, Topics(), batch)
        for where, last in offsets.items():
            self.offsets[where] = max(self.offsets.get(where, -1), last)


@dataclass
class Side:
    """One run's broker, database and services."""

    root: Path
    dsn: str
    broker: Broker
    processes: dict[str, ServiceProcess]
    gateway_port: int

    @classmethod
    async def start(cls, name: str, admin_dsn: str, root: Path, ledgers: int) -> Side:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        dsn = _with_database(admin_dsn, name)
        broker = Broker(free_port(), root / f"{name}-tansu.log").start()
        await create_topics(broker.bootstrap, Topics().all())
        common = {"DATABASE_URL": dsn, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
        ledger = {**common, "LEDGER_HOLD_SECONDS": "0", "LEDGER_TOPIC_CHECK_SECONDS": "2"}
        gateway_port = free_port()
        envs = {
            **{f"ledger-{n}": ("ledger", {**ledger, "LEDGER_HTTP_PORT": str(free_port())})
               for n in range(ledgers)},
            "performance": ("performance", {**common, "PERFORMANCE_HTTP_PORT": str(free_port())}),
            "gateway": ("reporting", {**common, "GRAPHQL_PORT": str(gateway_port),
                                      "AUTH_JWT_SECRET": SECRET}),
        }  # fmt: skip
        processes = {
            label: ServiceProcess(service, env, root / f"{name}-{label}.log").start()
            for label, (service, env) in envs.items()
        }
        side = cls(root, dsn, broker, processes, gateway_port)
        for label in processes:
            await side.wait_ready(label)
        return side

    async def wait_ready(self, label: str) -> None:
        """Until a consumer's /readyz (the gateway's /healthz) answers 200."""
        process = self.processes[label]
        port = process.env.get("LEDGER_HTTP_PORT") or process.env.get("PERFORMANCE_HTTP_PORT")
        url = f"http://127.0.0.1:{port}/readyz" if port else self.url("/healthz")
        await wait_http(url, timeout=120, process=process)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.gateway_port}{path}"

    def ledgers(self) -> list[ServiceProcess]:
        return [p for label, p in self.processes.items() if label.startswith("ledger-")]

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        self.broker.stop()


def _with_database(dsn: str, database: str) -> str:
    """The DSN with another database (embedded PostgreSQL's: postgresql://user@/db?host=...)."""
    head, _, query = dsn.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{database}" + (f"?{query}" if query else "")


@dataclass
class Chaos:
    """The faults, struck one after another against a side while its upstream publishes; and
    a supervisor that starts again any process that exits on its own (and notes it)."""

    side: Side
    upstream: Upstream
    pg_data: Path
    rnd: random.Random
    held_down: set[str] = field(default_factory=set)  # killed by us, not yet started again
    exits: list[str] = field(default_factory=list)  # processes that exited on their own

    async def strike_all(self, faults: int, seconds: float) -> list[str]:
        order = list(KINDS)
        self.rnd.shuffle(order)
        kinds = [order[n % len(order)] for n in range(faults)]
        moments = sorted(self.rnd.uniform(0, seconds) for _ in range(faults))
        started, struck = time.monotonic(), []
        for kind, moment in zip(kinds, moments, strict=True):
            await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
            what = await self.strike(kind)
            struck.append(f"{time.monotonic() - started:6.1f} s  {kind:<12} {what}")
            console.print(f"  fault {struck[-1]}")
        return struck

    async def strike(self, kind: str) -> str:
        faults: dict[str, Callable[[], Awaitable[str]]] = {
            "ledger": lambda: self._kill(self.rnd.choice(self._ledgers())),
            "relay-leader": self._kill_relay_leader,
            "performance": lambda: self._kill("performance"),
            "gateway": lambda: self._kill("gateway"),
            "postgres": self._restart_postgres,
            "broker": self._restart_broker,
            "pause": self._pause,
        }
        return await faults[kind]()

    def _ledgers(self) -> list[str]:
        return [label for label in self.side.processes if label.startswith("ledger-")]

    def _down_seconds(self) -> float:
        return self.rnd.uniform(0.5, 5.0)

    async def _kill(self, label: str) -> str:
        process, down = self.side.processes[label], self._down_seconds()
        self.held_down.add(label)
        process.kill()
        await asyncio.sleep(down)
        process.start()
        self.held_down.discard(label)
        return f"SIGKILL {label}, started again after {down:.1f} s"

    async def _kill_relay_leader(self) -> str:
        conn = await asyncpg.connect(self.side.dsn)
        try:
            pid = await relay_leader(conn)
        finally:
            await conn.close()
        for label in self._ledgers():
            process = self.side.processes[label].process
            if process is not None and process.pid == pid:
                return await self._kill(label) + " (the relay's leader)"
        return "no relay leader right now (elections under way): " + await self._kill(
            self.rnd.choice(self._ledgers())
        )

    async def _restart_postgres(self) -> str:
        down = self._down_seconds()
        recovery = await asyncio.to_thread(restart_postgres, self.pg_data, down)
        return (f"PostgreSQL stopped (immediate mode), started again after {down:.1f} s, "
                f"accepting connections {recovery:.1f} s later (crash recovery)")  # fmt: skip

    async def _restart_broker(self) -> str:
        broker, down = self.side.broker, self._down_seconds()
        async with self.upstream.lock:
            broker.stop()
            await asyncio.sleep(down)
            await asyncio.to_thread(broker.start)
            await create_topics(broker.bootstrap, Topics().all())
            await self.upstream.publish_again()
        return f"broker restarted empty after {down:.1f} s; the upstream published its log again"

    async def _pause(self) -> str:
        label = self.rnd.choice([*self._ledgers(), "performance"])
        process, paused = self.side.processes[label].process, self.rnd.uniform(12.0, 20.0)
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(paused)  # its consumer session (10 s) expires: a rebalance
        process.send_signal(signal.SIGCONT)
        return f"SIGSTOP {label} for {paused:.1f} s (past its consumer session), then SIGCONT"

    async def supervise(self) -> None:
        while True:
            for label, process in self.side.processes.items():
                if label not in self.held_down and not process.alive():
                    assert process.process is not None
                    self.exits.append(f"{label} exited ({process.process.returncode})")
                    console.print(f"  [red]{self.exits[-1]}[/]; started again")
                    process.start()
            await asyncio.sleep(1.0)


@dataclass(frozen=True)
class Outcome:
    snapshot: Snapshot
    figures: dict[str, Any]  # department -> the gateway's answer


async def settle(side: Side, offsets: fuzz.Offsets, timeout: float) -> Outcome:
    """Wait until every record is decided, projected and relayed; then the side's outcome."""
    await wait_until_projected(side.dsn, side.broker.bootstrap, offsets, timeout)
    deadline = time.monotonic() + timeout
    while not await relayed(side.dsn):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the journal was not relayed within {timeout} s")
        await asyncio.sleep(0.5)
    found = await snapshot(side.dsn, side.broker.bootstrap, Topics().ledger_journal, FISCAL_YEAR)
    token = issue_token(SECRET, "chaos", ["*"], ["auditor"])
    figures = {}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        for department in found.digests:
            variables = {"department": department, "year": FISCAL_YEAR}
            query = {"query": FIGURES, "variables": variables}
            answer = await client.post(side.url("/graphql"), json=query, timeout=30)
            figures[department] = answer.json()
    return Outcome(found, figures)


async def run(events: int, faults: int, seed: int, rate: float, root: Path) -> bool:
    admin_dsn = start_postgres(root / "pg", delete_on_exit=True)
    log, timeout = records(events, seed), max(600.0, events / 500)
    console.print(f"clean run: {events:,} records, one ledger, no faults")
    clean = await Side.start("clean", admin_dsn, root, ledgers=1)
    try:
        _, offsets = await fuzz.publish(clean.broker.bootstrap, Topics(), log)
        reference = await settle(clean, offsets, timeout)
    finally:
        clean.stop()
    console.print(f"chaos run: two ledgers, {rate:,.0f} records/s, {faults} faults")
    side = await Side.start("chaos", admin_dsn, root, ledgers=2)
    try:
        upstream = Upstream(log, rate, side.broker.bootstrap)
        chaos = Chaos(side, upstream, root / "pg", random.Random(seed))
        publishing = asyncio.create_task(upstream.run())
        supervising = asyncio.create_task(chaos.supervise())
        await chaos.strike_all(faults, events / rate)
        await publishing
        tested = await settle(side, upstream.offsets, timeout)
        supervising.cancel()
    finally:
        side.stop()
    return report(events, faults, reference, tested, chaos.exits)


def report(events: int, faults: int, reference: Outcome, tested: Outcome, exits: list[str]) -> bool:
    found = compare(reference.snapshot, tested.snapshot)
    figures_equal = reference.figures == tested.figures
    verdicts = Counter(v[0] for v in reference.snapshot.verdicts().elements())
    answered = sum("errors" not in answer for answer in reference.figures.values())
    console.print(
        "  verdicts of the clean run: "
        + ", ".join(f"{n:,} {v}" for v, n in verdicts.items())
        + f"; the gateway's figures of {answered} departments"
    )
    console.print(
        f"  event store {_equal(found.store_equal)}, journal per department "
        f"{_equal(found.journal_equal)}, the gateway's figures {_equal(figures_equal)}; "
        "processes that exited on their own: "
        + (", ".join(f"{what} x{n}" for what, n in Counter(exits).items()) or "none")
    )
    for difference in found.differences:
        console.print(f"  {difference}"[:2000], style="red", markup=False)
    console.print(
        f"events {events}, faults {faults}, lost {found.lost}, double {found.double}, "
        f"digest {_equal(found.digest_equal)}"
    )
    return found.equal and figures_equal


def _equal(equal: bool) -> str:
    return "equal" if equal else "DIFFERENT"


def main(
    events: Annotated[int, typer.Option(min=100, help="Records the upstream publishes")] = 100_000,
    faults: Annotated[int, typer.Option(min=0, help="Faults struck while it publishes")] = 5,
    seed: Annotated[
        int, typer.Option(help="Seed of the records, the faults and their moments")
    ] = 1,
    rate: Annotated[float, typer.Option(min=100, help="Records published a second")] = 5_000,
) -> None:
    """Publish the records through a clean pipeline and through one under faults; exit 1 if
    the two differ in anything."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the services on the way out
    root = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    console.print(f"logs and data under {root}")
    if not asyncio.run(run(events, faults, seed, rate, root)):
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
