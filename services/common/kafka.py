"""Kafka clients' connection options, and faststream helpers shared by the consumers.

Every Kafka client of the code base (faststream brokers, aiokafka producers, consumers and
admin clients) takes its security options from here, built from ``KafkaSettings``
(KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*): ``broker_security`` for a faststream
``KafkaBroker(security=...)``, ``client_options`` for aiokafka's keyword arguments.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from aiokafka.helpers import create_ssl_context
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from services.common.settings import KafkaSettings

R = TypeVar("R")

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
