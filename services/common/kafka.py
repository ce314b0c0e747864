"""faststream helpers shared by the consumers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from faststream import FastStream
from faststream.kafka import KafkaBroker

R = TypeVar("R")


async def undecoded(message: Any) -> None:
    """A faststream decoder that decodes nothing: our batch handlers read the records' bytes
    (``message.raw_message``) and parse them once, themselves. faststream's default decoder
    would ``json.loads`` every record first, and a pathological one (JSON nested 100,000
    deep) would make it raise before the handler could reject it."""
    return None


class Opened(Generic[R]):
    """What a consumer service opened when its app started (until it is closed)."""

    def __init__(self) -> None:
        self._resources: R | None = None

    def __call__(self) -> R:
        if self._resources is None:
            raise RuntimeError("the service's resources are not open (the app has not started)")
        return self._resources


def consumer_app(
    broker: KafkaBroker,
    open_resources: Callable[[], Awaitable[R]],
    close_resources: Callable[[R], Awaitable[None]],
) -> tuple[FastStream, Opened[R]]:
    """A faststream app around a broker whose subscribers, declared before the app starts,
    reach its resources through the returned ``Opened``: opened at startup, closed after the
    broker stopped (so that no batch is in flight)."""
    opened: Opened[R] = Opened()
    app = FastStream(broker)

    @app.on_startup
    async def open_() -> None:
        opened._resources = await open_resources()

    @app.after_shutdown
    async def close() -> None:
        await close_resources(opened())
        opened._resources = None

    return app, opened
