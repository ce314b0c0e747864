"""Fuzzing the real consumer at scale: mutations of valid envelopes (dropped and renamed
fields, wrong types, huge and tiny numbers, bad UTF-8, deep nesting, long strings, wrong
years, dates at the edges, odd keys) published to the inbound topics and read by the ledger
service. At the end every record must be in exactly one place: accepted (``ledger.events``),
held (``ledger.pending``) or rejected with a reason (``ledger.rejections``).

    .venv/bin/python -m bench.fuzz --records 100000 [--seed 2017]

It starts an embedded PostgreSQL, a Tansu broker and one ledger in a temporary directory,
publishes the records first, then starts the ledger and times it until its consumer group
has committed past the last one. It prints the outcome by reason and one line,
``records N: accepted A, held H, rejected R; lost 0, double 0``, and exits 1 if anything was
lost or counted twice or the ledger died. tests/integration/test_fuzz.py runs a small one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import asyncpg
import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console

from bench.watch import watching
from demo import guandu2017
from deploy.infra import (
    Broker,
    ServiceProcess,
    create_topics,
    free_port,
    start_postgres,
    wait_for_consumer_group,
    wait_http,
)
from schemas import examples
from schemas.events import TOPIC_GROUP
from services.common.settings import Topics
from services.ledger.records import InboundRecord, Parsed, Refused, parse

console = Console()
Event = dict[str, Any]
Record = tuple[str, bytes | None, bytes | None]  # topic group, key, value
INBOUND = Topics().inbound()  # topic -> its group
Offsets = dict[tuple[str, int], int]

# Raw JSON the mutations put in place of a marker string, after serialising: what json.dumps
# cannot write (a number out of every float's range, nesting deeper than Python recurses).
RAW = {
    "\u0001deep": "[" * 5_000 + "]" * 5_000,
    "\u0001object": '{"a":' * 2_000 + "1" + "}" * 2_000,
    "\u0001huge": "1e400",
    "\u0001digits": "9" * 5_000,
}
WRONG_TYPES: tuple[Any, ...] = (0, -1, 1.5, True, False, None, [], {}, [1, 2], {"a": 1})
NUMBERS: tuple[Any, ...] = (
    *("0", "-0.00", "0.001", "0.005", "-0.01", "1e5", "1E-300", "99999999999999.995"),
    *("9999999999999999.99", "1" * 40 + ".00", "NaN", "Infinity", "-Infinity", " 1.00"),
    *(10**40, -(10**40), 2**63, -(2**63) - 1, 1e-300, 5e-324, 0.1, "\u0001huge", "\u0001digits"),
)
DATES = (
    *("2016-12-31T23:59:59.999999+08:00", "2017-01-01T00:00:00+08:00", "2017-01-01T00:00:00Z"),
    *("2017-12-31T23:59:59+08:00", "2017-12-31T16:00:00Z", "2018-01-01T00:00:00+08:00"),
    *("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2017-02-29T00:00:00Z", "2017-13-01"),
    *("2017-06-01T00:00:00+14:00", "2017-06-01T00:00:00-12:00", "2017-06-01", "2017-06-01T25:00"),
    *("2017-W22-4", "20170601", "", "2017-06-01T00:00:00+08:00:00"),
)
YEARS: tuple[Any, ...] = (0, -1, 1999, 2016, 2018, 2100, 9999, 10**12, "2017", 2017.0, None)
BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\x80")
KEYS = (None, b"", b"\xff\xfe", b"x" * 10_000)


def base_events(cases: int = 2_000) -> list[tuple[str, Event]]:
    """Valid events to mutate: the demo's budget year and schemes, its first cases, and the
    contract's example of every event type."""
    shown = [(TOPIC_GROUP[e["event_type"]], e) for e in map(examples.example, examples.DATA)]
    return [
        *(("budget", e) for e in guandu2017.budget_events()),
        *(("case", e) for e in guandu2017.assessment_schemes()),
        *(("case", e) for e in itertools.islice(guandu2017.case_events(), cases)),
        *shown,
    ]


def _renamed_ids(value: Any, suffix: str) -> Any:
    """A copy of an event whose identifiers (event_id, *_id, reverses) carry the suffix, so
    that each round over the base events is a year of its own, its references intact."""
    if isinstance(value, dict):
        return {
            k: f"{v}{suffix}"
            if isinstance(v, str) and (k.endswith("_id") or k == "reverses")
            else _renamed_ids(v, suffix)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_renamed_ids(v, suffix) for v in value]
    return value


def fields_of(event: Event, with_id: bool = False) -> list[tuple[dict[str, Any], str]]:
    """(container, key) of every field, envelope and data; event_id only ``with_id`` (its
    value stays unique, so that no mutant is a duplicate of another: it is only dropped or
    renamed)."""
    found = [(event, k) for k in event if with_id or k != "event_id"]
    data = event.get("data")
    if isinstance(data, dict):
        found += [(data, k) for k in data]
    return found


def _drop(rnd: random.Random, event: Event) -> None:
    container, key = rnd.choice(fields_of(event, with_id=True))
    del container[key]


def _rename(rnd: random.Random, event: Event) -> None:
    container, key = rnd.choice(fields_of(event, with_id=True))
    new = rnd.choice([key.upper(), f"{key}_", key.replace("_", ""), f" {key}", "", "数据"])
    container[new] = container.pop(key)


def _set(choices: tuple[Any, ...]) -> Callable[[random.Random, Event], None]:
    def mutate(rnd: random.Random, event: Event) -> None:
        container, key = rnd.choice(fields_of(event))
        container[key] = rnd.choice(choices)

    return mutate


def _long_string(rnd: random.Random, event: Event) -> None:
    container, key = rnd.choice(fields_of(event))
    container[key] = rnd.choice(["字", "a", "\u0000", "😀", "\u202e"]) * rnd.choice(
        [129, 2_001, 10_000]
    )


def _nest(rnd: random.Random, event: Event) -> None:
    container, key = rnd.choice(fields_of(event))
    container[key] = rnd.choice(["\u0001deep", "\u0001object"])


def _year(rnd: random.Random, event: Event) -> None:
    event["fiscal_year"] = rnd.choice(YEARS)


def _date(rnd: random.Random, event: Event) -> None:
    dated = [
        (c, k) for c, k in fields_of(event) if k.endswith("_at") or "date" in k or k == "as_of"
    ]
    container, key = rnd.choice(dated or [(event, "occurred_at")])
    container[key] = rnd.choice(DATES)


MUTATIONS = (
    *(_drop, _rename, _set(WRONG_TYPES), _set(NUMBERS), _long_string, _nest, _year, _date),
)


def serialised(event: Event) -> bytes:
    text = json.dumps(event, ensure_ascii=False)
    for marker, raw in RAW.items():
        text = text.replace(json.dumps(marker), raw)
    return text.encode()


def mutants(
    records: int, seed: int, base: list[tuple[str, Event]], odd_keys: bool = True
) -> Iterator[Record]:
    """``records`` records: round r over the base events with their ids suffixed by r, each
    kept valid one time in ten, else given one to three mutations (and one in ten bad
    UTF-8 bytes, one in ten an odd key unless not ``odd_keys``: then every record is keyed
    by its department, so that its verdict depends only on the order of its partition)."""
    rnd = random.Random(seed)
    for n in range(records):
        group, original = base[n % len(base)]
        event: Event = _renamed_ids(original, f".r{n // len(base)}")
        if rnd.random() >= 0.1:
            for mutate in rnd.choices(MUTATIONS, k=rnd.randint(1, 3)):
                mutate(rnd, event)
        value = serialised(event)
        if rnd.random() < 0.1:
            at = rnd.randrange(len(value) + 1)
            value = value[:at] + rnd.choice(BAD_UTF8) + value[at:]
        department = original["department"].encode()
        key = rnd.choice(KEYS) if rnd.random() < 0.1 else department
        yield group, key if odd_keys else department, value


def judged(topic: str, value: bytes) -> Parsed | Refused:
    """The ledger parser's verdict on a record, checked: the event (its stored form carries
    its id), or a refusal with a reason code, a message, and texts PostgreSQL can store."""
    verdict = parse(InboundRecord(topic, 0, 0, value), INBOUND)
    if isinstance(verdict, Refused):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", verdict.reason), verdict
        assert verdict.message, verdict
        for text in (verdict.field, verdict.message, verdict.event_id, verdict.department):
            if text is not None:
                assert "\x00" not in text, verdict
                text.encode()  # raises on a lone surrogate
    else:
        assert isinstance(verdict, Parsed), verdict
        assert json.loads(verdict.payload)["event_id"] == verdict.event.event_id
    return verdict


async def publish(bootstrap: str, topics: Topics, records: Iterable[Record]) -> tuple[int, Offsets]:
    """Publish the records as they are; how many, and the last offset of each partition."""
    by_group = {group: topic for topic, group in topics.inbound().items()}
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_request_size=4_000_000
    )
    await producer.start()
    offsets: Offsets = {}
    count = 0
    try:
        pending = iter(records)
        while batch := list(itertools.islice(pending, 5_000)):
            sent = [await producer.send(by_group[g], key=k, value=v) for g, k, v in batch]
            for meta in await asyncio.gather(*sent):
                where = (meta.topic, meta.partition)
                offsets[where] = max(offsets.get(where, -1), meta.offset)
            count += len(batch)
    finally:
        await producer.stop()
    return count, offsets


class Outcome(NamedTuple):
    accepted: int
    held: int
    rejected: int
    records: int  # distinct (topic, partition, offset) over the three
    reasons: dict[str, int]  # of the rejected and the held

    def lost(self, published: int) -> int:
        """Records published that are in none of the three places."""
        return published - self.records

    @property
    def double(self) -> int:
        """Records in more than one place, or twice in one."""
        return self.accepted + self.held + self.rejected - self.records

    def line(self, published: int) -> str:
        return (
            f"records {published:,}: accepted {self.accepted:,}, held {self.held:,}, "
            f"rejected {self.rejected:,}; lost {self.lost(published)}, double {self.double}"
        )


OUTCOME = """
WITH placed AS (
    SELECT 'accepted' AS place, NULL AS reason, source_topic, source_partition, source_offset
      FROM ledger.events
    UNION ALL SELECT 'held', reason, source_topic, source_partition, source_offset
      FROM ledger.pending
    UNION ALL SELECT 'rejected', reason, source_topic, source_partition, source_offset
      FROM ledger.rejections)
SELECT (SELECT count(*) FROM (SELECT DISTINCT source_topic, source_partition, source_offset
                                FROM placed) d) AS records,
       (SELECT jsonb_object_agg(place, n) FROM (SELECT place, count(*) AS n FROM placed
                                                 GROUP BY place) p) AS places,
       (SELECT jsonb_object_agg(reason, n) FROM (SELECT reason, count(*) AS n FROM placed
                                                  WHERE reason IS NOT NULL GROUP BY reason) r)
           AS reasons
"""


async def outcome(dsn: str) -> Outcome:
    """Where every record ended up, from the ledger's tables."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(OUTCOME)
    finally:
        await conn.close()
    places = json.loads(row["places"] or "{}")
    return Outcome(
        accepted=places.get("accepted", 0),
        held=places.get("held", 0),
        rejected=places.get("rejected", 0),
        records=row["records"],
        reasons=json.loads(row["reasons"] or "{}"),
    )


async def ingested(
    dsn: str, bootstrap: str, offsets: Offsets, ledger: ServiceProcess
) -> tuple[float, int]:
    """Seconds until the ledger's group committed past every offset, and its peak RSS."""
    decided = wait_for_consumer_group(bootstrap, "ledger", offsets, 3_600)
    _, seconds, peak = await watching(ledger, decided)
    return seconds, peak


def main(
    records: Annotated[int, typer.Option(min=1, help="Records published")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the mutations")] = 2017,
) -> None:
    """Publish mutated envelopes; check that the ledger placed every one exactly once."""
    root = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    dsn = start_postgres(root / "pg", delete_on_exit=True)
    broker = Broker(free_port(), root / "tansu.log").start()
    topics = Topics()
    env = {"DATABASE_URL": dsn, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "LEDGER_HTTP_PORT": str(free_port())}  # fmt: skip
    ledger = ServiceProcess("ledger", env, root / "ledger.log")
    try:
        asyncio.run(create_topics(broker.bootstrap, topics.all()))
        with console.status(f"publishing {records:,} mutated records"):
            published, offsets = asyncio.run(
                publish(broker.bootstrap, topics, mutants(records, seed, base_events()))
            )
        ledger.start()
        asyncio.run(wait_http(f"http://127.0.0.1:{env['LEDGER_HTTP_PORT']}/readyz", process=ledger))
        with console.status("the ledger is judging them"):
            seconds, peak = asyncio.run(ingested(dsn, broker.bootstrap, offsets, ledger))
        found = asyncio.run(outcome(dsn))
        for reason, n in sorted(found.reasons.items(), key=lambda r: -r[1]):
            console.print(f"  {n:>8,}  {reason}")
        console.print(f"{published / seconds:,.0f} records/s, the ledger's peak RSS "
                      f"{peak / 2**20:,.0f} MiB, still up: {ledger.alive()}")  # fmt: skip
        console.print(found.line(published))
        if found.lost(published) or found.double or not ledger.alive():
            raise typer.Exit(1)
    finally:
        ledger.stop()
        broker.stop()


if __name__ == "__main__":
    typer.run(main)
