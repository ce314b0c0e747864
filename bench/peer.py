"""The peer benchmark: the same events through the ``eventsourcing`` library (9.5), used as
its documentation shows, so that bench/replay.py and bench/ingest.py print a ratio to it.

    .venv/bin/python -m bench.peer --events 100000         # [--districts 1] [--json]

The write side (bench/peer_ledger.py) is an ``Application`` with an aggregate per contract
key. ``append`` hands it the events in batches of ``BATCH``, each batch one
``app.save(*aggregates)``. ``rebuild`` is the read side: a ``Projection`` that the
library's ``ProjectionRunner`` runs over the application's notification log, from the
start, into a materialised view built on ``PostgresTrackingRecorder`` as the library's
documentation builds one: each event is one transaction of the view that writes the
tracking record and the view's rows (case stages per day and channel; money per budget
line, day and kind). The tables live in a database of their own (``peer``), created afresh
on the server of DATABASE_URL, or of an embedded PostgreSQL this command starts.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import psycopg
import typer
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import SQL, Composed, Identifier
from rich.console import Console

from bench.city_year import city_year
from bench.peer_ledger import BudgetLine, Case, PeerLedger, Procurement
from bench.watch import measured
from deploy.infra import start_postgres

console = Console()
BATCH = 500  # contract events per app.save(): from 2,000 on, the library's insert (one
# array parameter above about 1.3 MB) hangs for good in psycopg 3.3.9's pipeline sync
EVENTS_TABLE = "peerledger_events"  # the application's stored events: its name, lowered
VIEW = "peerview"  # the projection's name, which names the view's tables
CASE_DAILY, CASE_CHANNEL, LINE_DAILY = (f"{VIEW}_{t}" for t in ("case_daily", "case_channel",
                                                                "line_daily"))  # fmt: skip
VIEW_TABLES = (f"{VIEW}_tracking", CASE_DAILY, CASE_CHANNEL, LINE_DAILY)


@dataclass(frozen=True)
class Figure:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds else 0.0


def settings(dsn: str) -> dict[str, str]:
    """The library's PostgreSQL settings for a DSN (URI or key=value)."""
    info = conninfo_to_dict(dsn)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(info.get("dbname") or "postgres"),
            "POSTGRES_HOST": str(info.get("host") or "localhost"),
            "POSTGRES_PORT": str(info.get("port") or 5432),
            "POSTGRES_USER": str(info.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(info.get("password") or ""),
            "POSTGRES_SCHEMA": "public", "CREATE_TABLE": "y"}  # fmt: skip


class PeerView(PostgresTrackingRecorder):
    """The materialised view: each command writes its rows and the tracking record in one
    transaction (``_insert_tracking`` raises on an event already tracked)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.case_daily, self.case_channel, self.line_daily = (
            SQL("{}.{}").format(schema, Identifier(t))
            for t in (CASE_DAILY, CASE_CHANNEL, LINE_DAILY)
        )
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {} (day date, channel text, stage text, n bigint, "
                "PRIMARY KEY (day, channel, stage))").format(self.case_daily),
            SQL("CREATE TABLE IF NOT EXISTS {} (case_id uuid PRIMARY KEY, channel text)").format(
                self.case_channel),
            SQL("CREATE TABLE IF NOT EXISTS {} (line uuid, day date, kind text, amount numeric, "
                "n bigint, PRIMARY KEY (line, day, kind))").format(self.line_daily),
        ]  # fmt: skip
        self.add_channel = SQL("INSERT INTO {} VALUES (%s, %s)").format(self.case_channel)
        self.count_stage = SQL(
            "INSERT INTO {0} SELECT %(day)s, channel, %(stage)s, 1 FROM {1} "
            "WHERE case_id = %(case)s ON CONFLICT (day, channel, stage) DO UPDATE SET n = {0}.n + 1"
        ).format(self.case_daily, self.case_channel)
        self.add_amount = SQL(
            "INSERT INTO {0} VALUES (%s, %s, %s, %s, 1) ON CONFLICT (line, day, kind) "
            "DO UPDATE SET amount = {0}.amount + excluded.amount, n = {0}.n + 1"
        ).format(self.line_daily)

    def _write(self, tracking: Tracking, *statements: tuple[Composed, Any]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            for statement, params in statements:
                curs.execute(statement, params, prepare=True)

    def case_reported(self, tracking: Tracking, case: UUID, channel: str, day: date) -> None:
        counted = {"day": day, "stage": "reported", "case": case}
        self._write(tracking, (self.add_channel, (case, channel)), (self.count_stage, counted))

    def case_stage(self, tracking: Tracking, case: UUID, stage: str, day: date) -> None:
        self._write(tracking, (self.count_stage, {"day": day, "stage": stage, "case": case}))

    def line_amount(
        self, tracking: Tracking, line: UUID, day: date, kind: str, amount: Decimal
    ) -> None:
        self._write(tracking, (self.add_amount, (line, day, kind, amount)))

    def skip(self, tracking: Tracking) -> None:
        """An event the view does not count: only its tracking record."""
        self._write(tracking)


class PeerProjection(Projection[PeerView]):
    name = VIEW

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _reported(self, domain_event: Case.Reported, tracking: Tracking) -> None:
        day = domain_event.occurred_at.date()
        self.view.case_reported(tracking, domain_event.originator_id, domain_event.channel, day)

    @process_event.register
    def _staged(self, domain_event: Case.Staged, tracking: Tracking) -> None:
        self.view.case_stage(tracking, domain_event.originator_id, domain_event.stage,
                             domain_event.occurred_at.date())  # fmt: skip

    @process_event.register
    def _authorised(self, domain_event: BudgetLine.Authorised, tracking: Tracking) -> None:
        self.view.line_amount(tracking, domain_event.originator_id, domain_event.occurred_at.date(),
                              "authorised", domain_event.amount)  # fmt: skip

    @process_event.register
    def _moved(
        self, domain_event: BudgetLine.Amount | BudgetLine.Disbursed, tracking: Tracking
    ) -> None:
        self.view.line_amount(tracking, domain_event.originator_id, domain_event.occurred_at.date(),
                              domain_event.kind, domain_event.amount)  # fmt: skip

    @process_event.register
    def _planned(self, domain_event: Procurement.Planned, tracking: Tracking) -> None:
        line = BudgetLine.create_id(domain_event.line_id)
        self.view.line_amount(tracking, line, domain_event.occurred_at.date(), "procurement",
                              domain_event.amount)  # fmt: skip


def append(dsn: str, events: Sequence[tuple[str, dict[str, Any]]], batch: int = BATCH) -> Figure:
    """Append the events through the application, ``batch`` per ``save``; the wall time of
    the appends (the commands on the aggregates and the saves), not of making the events.
    Within a batch the touched aggregates stay in a dict; one not yet in it comes from
    ``repository.get`` (its stored events); no aggregate cache across batches."""
    app = PeerLedger(env=settings(dsn))
    try:
        began = time.perf_counter()
        for start in range(0, len(events), batch):
            app.record(e for _, e in events[start : start + batch])
        seconds = time.perf_counter() - began
    finally:
        app.close()
    return Figure(len(events), seconds)


def rebuild(dsn: str, timeout: float = 3600) -> Figure:
    """Drop the view and project the whole notification log again with the library's
    ``ProjectionRunner``; the time from the runner's start until the view has tracked the
    last notification (the library's ``wait`` polls, at most 0.8 s apart)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            SQL("DROP TABLE IF EXISTS {}").format(SQL(", ").join(map(Identifier, VIEW_TABLES)))
        )
        last = conn.execute(SQL("SELECT max(notification_id), count(*) FROM {}").format(
            Identifier(EVENTS_TABLE))).fetchone()  # fmt: skip
    assert last is not None and last[0] is not None, "nothing to rebuild: append first"
    began = time.perf_counter()
    with ProjectionRunner(application_class=PeerLedger, projection_class=PeerProjection,
                          view_class=PeerView, env=settings(dsn)) as runner:  # fmt: skip
        runner.wait(last[0], timeout=timeout)
        seconds = time.perf_counter() - began
    return Figure(int(last[1]), seconds)


def fresh_database(dsn: str, name: str = "peer") -> str:
    """An empty database ``name`` on the server of ``dsn`` (dropped first if there); its DSN."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))
        conn.execute(SQL("CREATE DATABASE {}").format(Identifier(name)))
    return make_conninfo(dsn, dbname=name)


def command(events: int, districts: int = 1) -> list[str]:
    """The command that runs the peer as a process of its own, printing one JSON line."""
    return [sys.executable, "-m", "bench.peer", "--events", str(events),
            "--districts", str(districts), "--json"]  # fmt: skip


def figures(output: str) -> dict[str, Figure]:
    """The figures (append, rebuild) from what ``command`` printed."""
    line = next(x for x in reversed(output.strip().splitlines()) if x.startswith("{"))
    found = json.loads(line)
    return {name: Figure(**found[name]) for name in ("append", "rebuild")}


def compared(kind: str, ours: float, events: int, districts: int, env: dict[str, str]) -> str:
    """The peer run as a measured process of its own on the first ``events``: its ``kind``
    figure (append, rebuild), and our rate's ratio to it, as a line to print."""
    _, peak, output = measured(command(events, districts), env)
    theirs = figures(output)[kind]
    name = {"append": "append", "rebuild": "projection rebuild"}[kind]
    return (f"eventsourcing {name}: {theirs.events:,} events at {theirs.rate:,.0f} events/s; "
            f"ratio {ours / theirs.rate:,.1f}x; peak RSS {peak / 2**20:,.0f} MiB")  # fmt: skip


def main(
    events: Annotated[int, typer.Option(min=1, help="The first N events of the year")] = 100_000,
    districts: Annotated[int, typer.Option(min=1, help="Districts of the generated year")] = 1,
    batch: Annotated[int, typer.Option(min=1, help="Events per app.save()")] = BATCH,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line")] = False,
) -> None:
    """Append the first events of the city-year with the eventsourcing library, then rebuild
    a projection of them: events/s of each."""
    server = os.environ.get("DATABASE_URL") or start_postgres(
        Path(tempfile.mkdtemp(prefix="bench-peer-")) / "pg", delete_on_exit=True
    )
    dsn = fresh_database(server)
    taken = list(itertools.islice(city_year(districts), events))
    appended = append(dsn, taken, batch)
    rebuilt = rebuild(dsn)
    if as_json:
        print(json.dumps({"append": asdict(appended), "rebuild": asdict(rebuilt)}))
        return
    for name, figure in (("append", appended), ("projection rebuild", rebuilt)):
        console.print(f"eventsourcing {name}: {figure.events:,} events in {figure.seconds:.1f} s "
                      f"= {figure.rate:,.0f} events/s")  # fmt: skip


if __name__ == "__main__":
    typer.run(main)
