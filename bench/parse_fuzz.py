"""Coverage-guided fuzzing of the ledger's parser with atheris (libFuzzer):

    .venv/bin/python -m bench.parse_fuzz -atheris_runs=1000000 [libFuzzer options]

The parser (``services.ledger.records.parse``: validation against the contract, the
canonical form, the checks of the record as a whole) and the contract's models are
instrumented; libFuzzer mutates its inputs towards new code paths, starting from a corpus of
valid records (bench/fuzz.py's base events). An input is a topic (its first byte) and a
record's value (the rest). Every verdict must be the event, or a refusal with a reason, a
message and texts PostgreSQL can store; anything else (an exception, a broken verdict)
stops the run with the input that caused it (exit code 1, the input saved as crash-*).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["services.ledger", "schemas"]):
    from services.ledger import records  # noqa: F401  (instrumented before bench.fuzz uses it)

from bench import fuzz

TOPIC_LIST = sorted(fuzz.INBOUND)  # an input's first byte picks one


def one_input(data: bytes) -> None:
    if data:
        fuzz.judged(TOPIC_LIST[data[0] % len(TOPIC_LIST)], data[1:])


def seed_corpus() -> Path:
    """A directory of valid records, one per file, each with its topic's byte."""
    corpus = Path(tempfile.mkdtemp(prefix="parse-fuzz-corpus-"))
    byte_of = {group: bytes([TOPIC_LIST.index(topic)]) for topic, group in fuzz.INBOUND.items()}
    for n, (group, event) in enumerate(fuzz.base_events(cases=200)):
        (corpus / f"{n:04d}").write_bytes(byte_of[group] + fuzz.serialised(event))
    return corpus


def main() -> None:
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    atheris.Setup(
        [sys.argv[0], *sys.argv[1:], *([] if corpus else [str(seed_corpus())])], one_input
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
