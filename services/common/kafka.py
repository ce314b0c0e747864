"""Kafka clients' connection options, and faststream helpers shared by the consumers.

Every Kafka client of the code base (faststream brokers, aiokafka producers, consumers and
admin clients) takes its security options from here, built from ``KafkaSettings``
(KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*): ``broker_security`` for a faststream
``KafkaBroker(security=...)``, ``client_options`` for aiokafka's keyword arguments.

The consumer services (ledger, performance) build their faststream broker and app here
(``consumer_app``), with the same readiness (``consumer_checks``), which includes the batch
their handler keeps failing on, if any (``FailingBatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.helpers import create_ssl_context
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from prometheus_client import REGISTRY, Gauge

from services.common import probes
from services.common.probes import Check, NotReady, ProbeServer
from services.common.settings import CommonSettings, KafkaSettings

R = TypeVar("R")

FAILED_ATTEMPTS = Gauge(
    "consumer_batch_failed_attempts",
    "Times in a row the consumer's handler failed on its current batch (0: the last batch "
    "went through). It stays up while a batch that cannot be applied holds up its partitions: "
    "it is consumed again and again, and nothing after it is applied",
    ["service"],
)

SASL_SECURITY: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context of an SSL or SASL_SSL connection (None for the others): the broker's
    certificate checked against KAFKA_SSL_CAFILE (the system's CAs without it) and, unless
    KAFKA_SSL_CHECK_HOSTNAME=false, its host name; KAFKA_SSL_CERTFILE/KEYFILE for mutual TLS."""
    if not kafka.kafka_uses_tls:
        return None
    context = create_ssl_context(
        cafile=kafka.kafka_ssl_cafile,
        certfile=kafka.kafka_ssl_certfile,
        keyfile=kafka.kafka_ssl_keyfile,
    )
    context.check_hostname = kafka.kafka_ssl_check_hostname
    return context


def _credentials(kafka: KafkaSettings) -> tuple[str, str, str]:
    """(mechanism, username, password) of a SASL protocol (the settings checked they are set)."""
    mechanism, username, password = (
        kafka.kafka_sasl_mechanism,
        kafka.kafka_sasl_username,
        kafka.kafka_sasl_password,
    )
    if mechanism is None or username is None or password is None:  # KafkaSettings refuses it
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL={kafka.kafka_security_protocol} needs SASL")
    return mechanism, username, password.get_secret_value()


def broker_security(kafka: KafkaSettings) -> BaseSecurity | None:
    """faststream's security object for ``KafkaBroker(security=...)`` (None: PLAINTEXT)."""
    context = ssl_context(kafka)
    if kafka.kafka_uses_sasl:
        mechanism, username, password = _credentials(kafka)
        return SASL_SECURITY[mechanism](
            username, password, ssl_context=context, use_ssl=context is not None
        )
    if context is not None:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """aiokafka's keyword arguments (``AIOKafkaProducer(..., **client_options(settings))``,
    and the consumer's and admin client's): empty for PLAINTEXT."""
    if kafka.kafka_security_protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": kafka.kafka_security_protocol}
    context = ssl_context(kafka)
    if context is not None:
        options["ssl_context"] = context
    if kafka.kafka_uses_sasl:
        mechanism, username, password = _credentials(kafka)
        options |= {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }
    return options


async def undecoded(message: Any) -> None:
    """A faststream decoder that decodes nothing: our batch handlers read the records' bytes
    (``message.raw_message``) and parse them once, themselves. faststream's default decoder
    would ``json.loads`` every record first, and a pathological one (JSON nested 100,000
    deep) would make it raise before the handler could reject it."""
    return None


async def headers_dropped(
    records: tuple[ConsumerRecord[bytes, bytes], ...],
    parse: Callable[[tuple[ConsumerRecord[bytes, bytes], ...]], Awaitable[Any]],
) -> Any:
    """A faststream batch parser that leaves the records' headers out. faststream decodes
    every header value as UTF-8, so one record whose header is not (another client's binary
    trace id) would stop the batch, and the partition, for good; our handlers read no
    headers, only ``topic``, ``partition``, ``offset`` and ``value``."""
    # (copying a record costs more than a record's share of judging it: only those with headers)
    return await parse(
        tuple(dataclasses.replace(r, headers=()) if r.headers else r for r in records)
    )


def consumer_broker(kafka: KafkaSettings, service: str) -> KafkaBroker:
    """A consumer service's faststream broker: its security; faststream's Prometheus
    middleware (``faststream_received_messages_total``, ``..._processed_messages_duration_
    seconds`` and the others, by handler); its log lines through the service's handlers
    (services.common.logs), the per-batch "Received"/"Processed" ones only at DEBUG."""
    return KafkaBroker(
        kafka.kafka_bootstrap_servers,
        client_id=service,
        log_level=logging.DEBUG,
        # faststream's own loggers ("faststream...") have handlers of their own and do not
        # propagate: the service's loggers do
        logger=logging.getLogger(f"{service}.broker"),
        security=broker_security(kafka),
        middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service)],
    )


class Opened(Generic[R]):
    """What a consumer service opened when its app started (until it is closed)."""

    def __init__(self) -> None:
        self._resources: R | None = None

    def __call__(self) -> R:
        if self._resources is None:
            raise RuntimeError("the service's resources are not open (the app has not started)")
        return self._resources


class Subscriber(Protocol):
    """A faststream Kafka subscriber: its aiokafka consumer, while it runs."""

    consumer: AIOKafkaConsumer | None


def assigned(subscriber: Subscriber) -> Check:
    """A readiness check: the subscriber's consumer has partitions of its group assigned."""

    async def check() -> str:
        consumer = subscriber.consumer
        partitions = consumer.assignment() if consumer is not None else set()
        if not partitions:
            raise NotReady("no partitions assigned (starting, rebalancing, or idle: more "
                           "instances in the group than partitions)")  # fmt: skip
        return f"{len(partitions)} partitions"

    return check


class FailingBatch:
    """The batch a consumer's handler keeps failing on: counted in
    consumer_batch_failed_attempts and, from ``after`` failures in a row, a failing
    readiness check naming the batch and the error, until a batch goes through."""

    def __init__(self, service: str, after: int = 3) -> None:
        self.gauge = FAILED_ATTEMPTS.labels(service)
        self.after, self.attempts, self.detail = after, 0, ""

    @contextlib.contextmanager
    def watching(self, batch: str) -> Iterator[None]:
        """Around the handling of one batch; ``batch`` says which (where it starts)."""
        try:
            yield
        except Exception as error:
            self.attempts += 1
            self.detail = f"{batch}: {type(error).__name__}: {error}"[:300]
            self.gauge.set(self.attempts)
            raise
        self.attempts = 0
        self.gauge.set(0)

    async def check(self) -> str:
        if self.attempts >= self.after:
            raise NotReady(f"the batch at {self.detail} failed {self.attempts} times in a row "
                           "(consumed again each time; nothing after it is applied)")  # fmt: skip
        return f"{self.attempts} failed attempts at this batch" if self.attempts else "ok"


class Watch(Protocol):
    async def reachable(self) -> str:
        """A readiness check: the broker answers (services.common.metrics.GroupWatch)."""
        ...


class ConsumerResources(Protocol):
    """What a consumer service's readiness looks at, once its resources are open."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def watch(self) -> Watch: ...


def consumer_checks(
    resources: Callable[[], ConsumerResources],
    dsn: str,
    migrations: Path,
    subscriber: Subscriber,
    failing: FailingBatch,
) -> dict[str, Check]:
    """A consumer service is ready when its database answers with every migration of its
    folder applied, the broker answers, its consumer has partitions assigned, and its
    handler is not stuck on a batch."""
    return {
        "database": probes.database(lambda: resources().pool),
        "migrations": probes.migrations(dsn, migrations),
        "broker": lambda: resources().watch.reachable(),
        "consumer": assigned(subscriber),
        "batches": failing.check,
    }


C = TypeVar("C", bound=ConsumerResources)


def consumer_app(
    service: str,
    settings: CommonSettings,
    migrations: Path,
    subscribe: Callable[[KafkaBroker, Opened[C], FailingBatch], Subscriber],
    open_resources: Callable[[], Awaitable[C]],
    close_resources: Callable[[C], Awaitable[None]],
    sock: socket.socket,
) -> FastStream:
    """A consumer service's faststream app: its broker (``consumer_broker``), whose
    subscribers, declared by ``subscribe`` before the app starts, reach the resources
    through the ``Opened`` they are given and report their batches to the ``FailingBatch``
    they are given; /healthz, /readyz (``consumer_checks``) and /metrics served on ``sock``.
    The probe server starts first (/healthz answers while the service connects), the
    resources open at startup and close after the broker stopped (so that no batch is in
    flight), and the probe server stops last. faststream's handlers of SIGTERM and SIGINT
    stop it all."""
    broker = consumer_broker(settings, service)
    opened: Opened[C] = Opened()
    failing = FailingBatch(service)
    subscriber = subscribe(broker, opened, failing)
    checks = consumer_checks(opened, settings.database_url, migrations, subscriber, failing)
    server = ProbeServer(sock, checks)
    app = FastStream(broker, logger=logging.getLogger(f"{service}.app"))

    @app.on_startup
    async def open_() -> None:
        await server.start()
        opened._resources = await open_resources()

    @app.after_shutdown
    async def close() -> None:
        try:
            await close_resources(opened())
            opened._resources = None
        finally:
            await server.stop()

    return app


async def cancel_tasks(tasks: Iterable[asyncio.Task[None]]) -> None:
    """A consumer service's background tasks (relays, gauge refreshes) cancelled, and ended."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
