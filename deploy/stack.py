"""``make run``: the whole stack on one machine.

Starts an embedded PostgreSQL (data in .data/pg, kept between runs) and a Tansu broker
(memory only) unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point elsewhere, provisions the
database (its roles and privileges, deploy/provision.py), creates the topics, starts the
three services as separate processes, each under its own role, publishes the demo year through
Kafka (unless DEMO=0), and prints where to look as soon as the gateway answers, then the
demo's loading progress. Ctrl-C, SIGTERM or SIGHUP stops everything, in order; a port
already taken (a leftover stack?) stops it before anything starts.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
import time
from pathlib import Path

import asyncpg
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from demo import guandu2017
from demo.publish import Offsets, publish
from deploy.infra import (
    REPO,
    Broker,
    ServiceProcess,
    create_topics,
    port_is_free,
    start_postgres,
    wait_for_consumer_group,
    wait_http,
)
from deploy.provision import provision
from services.common.settings import Topics
from services.ledger.store.progress import progress as ledger_progress
from services.performance.store import applied_by_department
from services.reporting.access import issue_token

console = Console(soft_wrap=True)


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str | None = Field(None, description="Use this PostgreSQL instead of embedded")
    kafka_bootstrap_servers: str | None = Field(None, description="Use this Kafka instead of Tansu")
    demo: bool = Field(True, description="DEMO=0: publish no demo data")
    graphql_port: int = Field(8000, ge=1, le=65535)
    ledger_http_port: int = Field(8001, ge=1, le=65535, description="The ledger's /metrics")
    performance_http_port: int = Field(8002, ge=1, le=65535, description="performance's /metrics")
    embedded_kafka_port: int = Field(9092, ge=1, le=65535)
    data_dir: Path = Field(REPO / ".data", description="DATA_DIR: embedded PostgreSQL data, logs")
    auth_jwt_secret: str | None = Field(None, description="Verify tokens with this secret")
    auth_jwks_url: str | None = Field(None, description="Verify tokens with this JWKS")
    graphiql: bool = Field(True, description="GRAPHIQL=0: no GraphiQL, no introspection")


# the sign-in links `make run` prints: (who, claims departments, roles, page)
DEMO_VIEWERS = [
    ("auditor, every department:", ["*"], ["auditor"], "/departments/GD-GRID/2017"),
    ("evaluator of GD-CGJ and its units:", ["GD-CGJ"], ["evaluator"], "/departments/GD-CGJ/2017"),
]


def development_auth(settings: StackSettings) -> tuple[dict[str, str], str]:
    """The gateway's AUTH_* and the sign-in links to print: with AUTH_* given, those (and no
    links); else a secret of the stack's own (kept in DATA_DIR, so the links printed once
    work after a restart) and tokens signed with it."""
    env = {"GRAPHIQL": "1" if settings.graphiql else "0"}
    if settings.auth_jwt_secret or settings.auth_jwks_url:
        return env, "Tokens: from your identity provider (AUTH_* is set)"
    path = settings.data_dir / "auth-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    secret = path.read_text().strip()
    url = f"http://127.0.0.1:{settings.graphql_port}"
    tokens = [
        (who, issue_token(secret, f"demo-{roles[0]}", departments, roles), page)
        for who, departments, roles, page in DEMO_VIEWERS
    ]
    lines = [f"  {who:<36} {url}/login?token={token}&next={page}" for who, token, page in tokens]
    printout = (
        "Sign in (each link keeps its token in a cookie; GraphiQL then sends it):\n"
        + "\n".join(lines)
        + f"\nScripts: export LEDGER_TOKEN={tokens[0][1]}   "
        '(the auditor\'s; curl -H "authorization: Bearer $LEDGER_TOKEN")'
    )
    return {**env, "AUTH_JWT_SECRET": secret}, printout


async def pipeline_status(dsn: str) -> dict[str, int]:
    """How far each stage is: events stored, rejections, and projections applied."""
    conn = await asyncpg.connect(dsn)
    try:
        status = await ledger_progress(conn)
        return {**status, "applied_by_department": await applied_by_department(conn)}
    finally:
        await conn.close()


async def wait_until_projected(
    dsn: str,
    bootstrap: str,
    published: Offsets,
    timeout: float,
    ledger_group: str = "ledger",
    count: int | None = None,
) -> dict[str, int]:
    """Wait until the ledger decided on every published record and the projections
    applied every accepted event; with ``count`` (how many were published), show progress."""
    deadline = time.monotonic() + timeout
    decided = asyncio.create_task(
        wait_for_consumer_group(bootstrap, ledger_group, published, timeout)
    )
    columns = (TextColumn("{task.description:<28}"), BarColumn(), TaskProgressColumn())
    try:
        with Progress(*columns, TimeElapsedColumn(), console=console, disable=count is None) as bar:
            ledger = bar.add_task("ledger: events decided", total=count)
            projections = bar.add_task("projections: applied", total=None)
            while time.monotonic() < deadline:
                now = await pipeline_status(dsn)
                bar.update(ledger, completed=now["accepted"] + now["rejected"])
                bar.update(  # sums of positions: NUMERIC in SQL, Decimal here
                    projections,
                    total=int(now["ledger_by_department"]),
                    completed=int(now["applied_by_department"]),
                )
                if decided.done() and now["applied_by_department"] == now["ledger_by_department"]:
                    decided.result()  # the group's wait raised, if it failed
                    bar.update(ledger, completed=count)  # duplicates are decided, not stored
                    return now
                await asyncio.sleep(0.5)
    finally:
        decided.cancel()
    raise TimeoutError(f"the projections did not catch up within {timeout} s")


class StackError(Exception):
    """The stack cannot start as configured; the message says what to change."""


def check_ports(settings: StackSettings) -> None:
    """Refuse to start when a port the stack would listen on is taken (a leftover stack
    would otherwise receive the demo and this one fail only in its logs)."""
    ports = {
        "GRAPHQL_PORT": settings.graphql_port,
        "LEDGER_HTTP_PORT": settings.ledger_http_port,
        "PERFORMANCE_HTTP_PORT": settings.performance_http_port,
    }
    if not settings.kafka_bootstrap_servers:
        ports["EMBEDDED_KAFKA_PORT"] = settings.embedded_kafka_port
    taken = [f"{port} ({name})" for name, port in ports.items() if not port_is_free(port)]
    if taken:
        raise StackError(
            f"port in use: {', '.join(taken)}. Is another stack still running? "
            "Stop it, or set these variables to free ports."
        )


def start_services(
    settings: StackSettings, dsns: dict[str, str], env: dict[str, str]
) -> list[ServiceProcess]:
    """The three services, each under its own database role, logging to DATA_DIR/logs."""
    env = {
        **env,
        "GRAPHQL_PORT": str(settings.graphql_port),
        "LEDGER_HTTP_PORT": str(settings.ledger_http_port),
        "PERFORMANCE_HTTP_PORT": str(settings.performance_http_port),
    }
    logs = settings.data_dir / "logs"
    return [
        ServiceProcess(name, {**env, "DATABASE_URL": dsns[name]}, logs / f"{name}.log").start()
        for name in ("ledger", "performance", "reporting")
    ]


async def wait_ready(settings: StackSettings, services: list[ServiceProcess]) -> None:
    """Until the consumers are ready (migrated, partitions assigned) and the gateway answers."""
    ports = [settings.ledger_http_port, settings.performance_http_port, settings.graphql_port]
    for service, port, route in zip(services, ports, ("readyz", "readyz", "healthz"), strict=True):
        await wait_http(f"http://127.0.0.1:{port}/{route}", process=service)


def where_to_look(
    settings: StackSettings, dsn: str, dsns: dict[str, str], bootstrap: str, sign_in: str
) -> str:
    url = f"http://127.0.0.1:{settings.graphql_port}"
    return (
        f"\n[bold]GraphQL:[/bold] {url}/graphql  (GraphiQL in a browser, once signed in)\n"
        f"{sign_in}\n"
        f"Pages: {url}/departments/GD-GRID/2017 (evaluation), "
        f"{url}/departments/GD-GRID/2017/assessment/9 (monthly bulletin, .csv too)\n"
        f"Health and metrics: {url}/readyz, {url}/metrics; "
        f"ledger http://127.0.0.1:{settings.ledger_http_port}/metrics, "
        f"performance http://127.0.0.1:{settings.performance_http_port}/metrics\n"
        f"Kafka: {bootstrap}   PostgreSQL: {dsn}\n"
        f"Operator CLI: DATABASE_URL='{dsns['ledger']}' KAFKA_BOOTSTRAP_SERVERS={bootstrap} "
        ".venv/bin/ledger rejections list\n"
        f"Replay a year: DATABASE_URL='{dsns['performance']}' "
        ".venv/bin/performance replay --fiscal-year 2017\n"
        f"Logs: {settings.data_dir / 'logs'}\n"
    )


async def load_demo(dsn: str, bootstrap: str, topics: Topics) -> None:
    """Publish the demo year and wait, showing progress, until it is projected."""
    console.print("loading the demo year (the figures fill in as it is projected):")
    count, offsets = await publish(bootstrap, guandu2017.events(), topics, show=True)
    console.print(f"published the demo year: {count:,} events to {bootstrap}")
    status = await wait_until_projected(dsn, bootstrap, offsets, timeout=1800, count=count)
    console.print(
        f"ledger: {status['accepted']:,} events accepted, {status['rejected']:,} rejected; "
        "projections up to date"
    )


def stop_on_signals() -> None:
    """SIGTERM (a process manager, `timeout`, `docker stop`), SIGHUP (the terminal closed)
    and SIGINT (Ctrl-C, even when inherited as ignored) cancel the launcher, whose
    cleanup stops the services, the broker and the embedded PostgreSQL in order."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)


async def run(settings: StackSettings) -> None:
    stop_on_signals()
    check_ports(settings)
    logs = settings.data_dir / "logs"
    dsn = settings.database_url or start_postgres(settings.data_dir / "pg")
    broker = None
    services: list[ServiceProcess] = []
    try:
        # the roles, the migrations and the privileges; each service runs under its own role
        dsns = await provision(dsn)
        bootstrap = settings.kafka_bootstrap_servers
        if not bootstrap:
            broker = Broker(settings.embedded_kafka_port, logs / "tansu.log").start()
            bootstrap = broker.bootstrap
        topics = Topics()
        await create_topics(bootstrap, topics.all())
        auth, sign_in = development_auth(settings)
        services = start_services(settings, dsns, {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, **auth})
        await wait_ready(settings, services)
        console.print(where_to_look(settings, dsn, dsns, bootstrap, sign_in))
        if settings.demo:
            await load_demo(dsn, bootstrap, topics)
        console.print("[bold green]Ready.[/bold green] Ctrl-C stops everything.")
        while all(s.alive() for s in services):
            await asyncio.sleep(1)
        dead = [s.name for s in services if not s.alive()]
        raise StackError(f"service stopped unexpectedly: {dead}; see {logs}")
    finally:
        for service in reversed(services):
            service.stop()
        if broker:
            broker.stop()


def main() -> None:
    try:
        asyncio.run(run(StackSettings()))
    except asyncio.CancelledError:  # a signal: everything was stopped in order
        console.print("stopped")
    except (StackError, ValidationError) as error:
        console.print(f"[red]cannot run the stack: {error}[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
