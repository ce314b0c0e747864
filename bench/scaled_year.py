"""Publish the demo year with N times its cases (the seed centre's platform N times busier)
to a running stack, for measuring that evaluation latency does not grow with events.

    DEMO=0 make run                              # an empty stack, in another terminal
    .venv/bin/python -m bench.scaled_year --times 10

Each copy is the demo's case year with another seed and its own case ids; the budget events
are published once. 10 times: about 13.4 million events.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from demo import guandu2017
from demo.publish import publish
from services.common.settings import Topics


def scaled_events(times: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for event in guandu2017.budget_events():
        yield "budget", event
    copies = [guandu2017.case_events(guandu2017.YEAR + n, f"x{n}") for n in range(times)]
    for event in itertools.chain.from_iterable(copies):
        yield "case", event


def main(
    times: Annotated[int, typer.Option(min=1)] = 10,
    bootstrap_servers: Annotated[str, typer.Option()] = "127.0.0.1:9092",
) -> None:
    count, _ = asyncio.run(publish(bootstrap_servers, scaled_events(times), Topics(), show=True))
    print(f"published {count:,} events")


if __name__ == "__main__":
    typer.run(main)
