"""Settings every service shares: where PostgreSQL and Kafka are, and the topic names.

Each service subclasses ``CommonSettings``; nothing else reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import TOPIC_DEFAULTS
from services.common.logs import LogFormat


class Topics(BaseSettings):
    """Topic names (docs/contract.md section 1; defaults in schemas/topics.py); each can be
    renamed with its environment variable (TOPIC_BUDGET_EVENTS, ...)."""

    model_config = SettingsConfigDict(env_prefix="TOPIC_", extra="ignore")

    budget_events: str = TOPIC_DEFAULTS.budget_events
    procurement_events: str = TOPIC_DEFAULTS.procurement_events
    case_events: str = TOPIC_DEFAULTS.case_events
    evaluation_events: str = TOPIC_DEFAULTS.evaluation_events
    ledger_journal: str = TOPIC_DEFAULTS.ledger_journal
    ledger_rejected: str = TOPIC_DEFAULTS.ledger_rejected

    def inbound(self) -> dict[str, str]:
        """Inbound topic name -> the event group it carries (see schemas.events.TOPIC_GROUP)."""
        return {
            self.budget_events: "budget",
            self.procurement_events: "procurement",
            self.case_events: "case",
            self.evaluation_events: "evaluation",
        }

    def all(self) -> list[str]:
        return [*self.inbound(), self.ledger_journal, self.ledger_rejected]


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _blank_is_none(value: Any) -> Any:
    """An empty variable (``KAFKA_SSL_CAFILE=`` in an env file) is an unset one."""
    return None if isinstance(value, str) and not value.strip() else value


def _one_of(variable: str, choices: Any) -> Callable[[Any], Any]:
    """A validator of a variable with a few values (any case), naming it when it is wrong."""
    allowed: tuple[str, ...] = tuple(a for a in get_args(choices) if a is not None)

    def check(value: Any) -> Any:
        value = _blank_is_none(value)
        if not isinstance(value, str):
            return value
        if value.strip().upper() not in allowed:
            raise ValueError(f"{variable}={value!r}: expected one of {', '.join(allowed)}")
        return value.strip().upper()

    return check


class KafkaSettings(BaseSettings):
    """Where Kafka is and how to connect to it (services.common.kafka builds the clients'
    options from these). Unset security variables mean a plain, unauthenticated connection;
    a variable set that the chosen protocol would not use is an error, not ignored."""

    # errors name the variable, never show the values (KAFKA_SASL_PASSWORD, DATABASE_URL)
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS)"
    )
    kafka_security_protocol: Annotated[
        SecurityProtocol, BeforeValidator(_one_of("KAFKA_SECURITY_PROTOCOL", SecurityProtocol))
    ] = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: Annotated[
        SaslMechanism | None, BeforeValidator(_one_of("KAFKA_SASL_MECHANISM", SaslMechanism))
    ] = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols)")
    kafka_sasl_username: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    kafka_sasl_password: Annotated[SecretStr | None, BeforeValidator(_blank_is_none)] = None
    kafka_ssl_cafile: Annotated[Path | None, BeforeValidator(_blank_is_none)] = Field(
        None,
        description="PEM CA bundle the broker's certificate is checked against "
        "(default: the system's CAs)",
    )
    kafka_ssl_certfile: Annotated[Path | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="PEM client certificate (mutual TLS); may hold the key too"
    )
    kafka_ssl_keyfile: Annotated[Path | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="PEM private key of KAFKA_SSL_CERTFILE"
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="Check that the broker's certificate names the host connected to"
    )
    topics: Topics = Field(default_factory=Topics)

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> KafkaSettings:
        protocol = f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
        sasl = {
            "KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
        }
        files = {
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        if self.kafka_uses_sasl:
            if missing := [name for name, value in sasl.items() if value is None]:
                raise ValueError(f"{protocol} needs {', '.join(missing)}")
        elif given := [name for name, value in sasl.items() if value is not None]:
            raise ValueError(
                f"{', '.join(given)} set, but {protocol} does not authenticate "
                "(use SASL_PLAINTEXT or SASL_SSL)"
            )
        given = [name for name, value in files.items() if value is not None]
        if given and not self.kafka_uses_tls:
            raise ValueError(
                f"{', '.join(given)} set, but {protocol} does not use TLS (use SSL or SASL_SSL)"
            )
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise ValueError(f"{name}={path}: no such file")
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError("KAFKA_SSL_KEYFILE set without KAFKA_SSL_CERTFILE")
        return self


class CommonSettings(KafkaSettings):
    database_url: str = Field(
        description="PostgreSQL DSN, e.g. postgresql://user:pw@host/db (DATABASE_URL)"
    )
    timezone: str = Field(
        "Asia/Shanghai", description="Time zone in which 'as of a date' days end (TIMEZONE)"
    )
    log_format: LogFormat = Field(
        "json", description="json: one JSON object per log line; text: plain lines (LOG_FORMAT)"
    )


class ConsumerSettings(CommonSettings):
    """What the Kafka-consuming services (ledger, performance) add: where they serve their
    /healthz, /readyz and /metrics (each service names its port), and how often they
    refresh the gauges computed by querying (consumer lag, outbox and projection lags)."""

    http_host: str = Field(
        "127.0.0.1", description="Interface of /healthz, /readyz and /metrics (HTTP_HOST)"
    )
    metrics_refresh_seconds: float = Field(
        5, gt=0, description="How often the lag gauges are computed (METRICS_REFRESH_SECONDS)"
    )
