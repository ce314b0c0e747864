"""``make run``: the whole stack on one machine.

Starts an embedded PostgreSQL (data in .data/pg, kept between runs) and a Tansu broker
(memory only) unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point elsewhere, provisions the
database (its roles and privileges, deploy/provision.py), creates the topics, starts the
three services as separate processes, each under its own role, publishes the demo year through
Kafka (unless DEMO=0), and prints where to look. Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from pathlib import Path

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console

from demo import guandu2017
from demo.publish import Offsets, publish
from deploy.infra import (
    REPO,
    Broker,
    ServiceProcess,
    create_topics,
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
    dsn: str, bootstrap: str, published: Offsets, timeout: float, ledger_group: str = "ledger"
) -> dict[str, int]:
    """Wait until the ledger decided on every published record and the projections
    applied every accepted event."""
    deadline = time.monotonic() + timeout
    with console.status("the ledger is ingesting the published events", spinner="dots") as status:
        await wait_for_consumer_group(bootstrap, ledger_group, published, timeout)
        while time.monotonic() < deadline:
            now = await pipeline_status(dsn)
            status.update(
                f"ledger: {now['accepted']:,} accepted, {now['rejected']:,} rejected; "
                "projections catching up"
            )
            if now["applied_by_department"] == now["ledger_by_department"]:
                return now
            await asyncio.sleep(0.5)
    raise TimeoutError(f"the projections did not catch up within {timeout} s")


async def run(settings: StackSettings) -> None:
    logs = settings.data_dir / "logs"
    dsn = settings.database_url or start_postgres(settings.data_dir / "pg")
    # the roles, the migrations and the privileges; each service runs under its own role
    dsns = await provision(dsn)
    broker = None
    bootstrap = settings.kafka_bootstrap_servers
    if not bootstrap:
        broker = Broker(settings.embedded_kafka_port, logs / "tansu.log").start()
        bootstrap = broker.bootstrap
    topics = Topics()
    services: list[ServiceProcess] = []
    try:
        await create_topics(bootstrap, topics.all())
        auth, sign_in = development_auth(settings)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "GRAPHQL_PORT": str(settings.graphql_port),
            **auth,
        }
        for name in ("ledger", "performance", "reporting"):
            own = {**env, "DATABASE_URL": dsns[name]}
            services.append(ServiceProcess(name, own, logs / f"{name}.log").start())
        url = f"http://127.0.0.1:{settings.graphql_port}"
        await wait_http(f"{url}/healthz", process=services[-1])
        if settings.demo:
            count, offsets = await publish(bootstrap, guandu2017.events(), topics, show=True)
            console.print(f"published the demo year: {count:,} events to {bootstrap}")
            status = await wait_until_projected(dsn, bootstrap, offsets, timeout=1800)
            console.print(
                f"ledger: {status['accepted']:,} events accepted, {status['rejected']:,} rejected; "
                "projections up to date"
            )
        console.print(
            f"\n[bold]GraphQL:[/bold] {url}/graphql  (GraphiQL in a browser, once signed in)\n"
            f"{sign_in}\n"
            f"Pages: {url}/departments/GD-GRID/2017 (evaluation), "
            f"{url}/departments/GD-GRID/2017/assessment/9 (monthly bulletin, .csv too)\n"
            f"Kafka: {bootstrap}   PostgreSQL: {dsn}\n"
            f"Operator CLI: DATABASE_URL='{dsns['ledger']}' KAFKA_BOOTSTRAP_SERVERS={bootstrap} "
            ".venv/bin/ledger rejections list\n"
            f"Replay a year: DATABASE_URL='{dsns['performance']}' "
            ".venv/bin/performance replay --fiscal-year 2017\n"
            f"Logs: {logs}\nCtrl-C stops everything."
        )
        while all(s.alive() for s in services):
            await asyncio.sleep(1)
        dead = [s.name for s in services if not s.alive()]
        console.print(f"[red]service stopped unexpectedly: {dead}; see {logs}[/red]")
    finally:
        for service in reversed(services):
            service.stop()
        if broker:
            broker.stop()


def main() -> None:
    # Ctrl-C stops everything in order, even when started with SIGINT ignored (as a
    # background job of a non-interactive shell, whose children inherit that)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        asyncio.run(run(StackSettings()))
    except KeyboardInterrupt:
        console.print("stopped")


if __name__ == "__main__":
    main()
