"""Test helpers: services as real processes, GraphQL over HTTP, pipeline waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from demo.publish import Offsets, publish
from deploy.infra import ServiceProcess, free_port, wait_http
from deploy.provision import provision
from deploy.stack import wait_until_projected
from tests import gateway
from tests.conftest import KafkaTarget
from tests.gateway import SECRET

SERVICES = ("ledger", "performance", "reporting")
HTTP_PORT_VARIABLES = {"ledger": "LEDGER_HTTP_PORT", "performance": "PERFORMANCE_HTTP_PORT"}
_given_ports: set[int] = set()


def fresh_port() -> int:
    """A free port that no other stack (or service) of this test session was given."""
    while (port := free_port()) in _given_ports:
        pass
    _given_ports.add(port)
    return port


class Stack:
    """The services of one test, each its own OS process, on a fresh database and broker.

    ``dsn`` is the database's admin DSN (what the test reads and checks with). By default the
    services and CLIs use it too; with ``least_privilege`` each runs under its own role
    (``deploy.provision``, run by ``provision()`` or by ``start_all``), as ``make run`` does.
    Each service gets ports of its own: the gateway's (``port``), and each ledger's and
    performance's for /healthz, /readyz and /metrics (``http_ports``, by label), kept when
    it is restarted.
    """

    def __init__(
        self, dsn: str, kafka: KafkaTarget, logs: Path, least_privilege: bool = False
    ) -> None:
        self.dsn, self.kafka, self.logs = dsn, kafka, logs
        self.least_privilege = least_privilege
        self.dsns: dict[str, str] = {}  # service -> the DSN of its role, once provisioned
        self.port = fresh_port()
        self.http_ports: dict[str, int] = {}  # label -> LEDGER_/PERFORMANCE_HTTP_PORT
        self.processes: dict[str, ServiceProcess] = {}

    async def provision(self) -> dict[str, str]:
        """The roles provisioned; from now on the services and CLIs use them."""
        self.least_privilege = True
        self.dsns = await provision(self.dsn)
        return self.dsns

    def dsn_of(self, service: str) -> str:
        """The DSN a service (or its CLI) connects with."""
        if not self.least_privilege:
            return self.dsn
        assert self.dsns, "least_privilege: `await stack.provision()` before starting services"
        return self.dsns[service]

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def url(self, label: str, path: str) -> str:
        """The address of a service's path, e.g. ``url("ledger", "/metrics")``."""
        port = self.port if label == "reporting" else self.http_ports[label]
        return f"http://127.0.0.1:{port}{path}"

    def start(self, name: str, as_name: str | None = None, **env: str) -> ServiceProcess:
        label = as_name or name
        ports = {}
        if name in HTTP_PORT_VARIABLES:
            if label not in self.http_ports:
                self.http_ports[label] = fresh_port()
            ports[HTTP_PORT_VARIABLES[name]] = str(self.http_ports[label])
        process = ServiceProcess(
            name,
            {
                "DATABASE_URL": self.dsn_of(name),
                "GRAPHQL_PORT": str(self.port),
                "AUTH_JWT_SECRET": SECRET,
                **ports,
                **self.kafka.env(),
                **env,
            },
            self.logs / f"{label}.log",
        ).start()
        self.processes[label] = process
        return process

    async def start_all(self, **env: str) -> None:
        if self.least_privilege and not self.dsns:
            await self.provision()
        for name in SERVICES:
            self.start(name, **env)
        for name in SERVICES:  # the consumers ready: migrated, and consuming their topics
            path = "/healthz" if name == "reporting" else "/readyz"
            await wait_http(self.url(name, path), process=self.processes[name])

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()

    async def publish(self, events: Iterable[tuple[str, dict[str, Any]]]) -> Offsets:
        _, offsets = await publish(self.kafka.bootstrap, events, self.kafka.topics)
        return offsets

    async def settle(self, offsets: Offsets, timeout: float = 300) -> dict[str, int]:
        return await wait_until_projected(self.dsn, self.kafka.bootstrap, offsets, timeout)

    def ledger_cli(self, *args: str, stdin: bytes | None = None, exit_code: int = 0) -> str:
        """Run the operator CLI (``ledger ...``) against this stack; what it printed."""
        return self.cli("ledger", *args, stdin=stdin, exit_code=exit_code)

    def cli(
        self,
        service: str,
        *args: str,
        stdin: bytes | None = None,
        exit_code: int = 0,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run a service's operator CLI (``ledger``, ``performance``); what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", f"services.{service}.cli", *args],
            env={
                **os.environ,
                "DATABASE_URL": self.dsn_of(service),
                **self.kafka.env(),
                "COLUMNS": "200",
                **(env or {}),
            },
            input=stdin,
            capture_output=True,
            timeout=600,
        )
        output = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == exit_code, output
        return output

    async def query(self, query: str, **variables: Any) -> dict[str, Any]:
        return await graphql(self.graphql_url, query, **variables)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], timeout: float = 60, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.5)


CHROMIUM_FLAGS = [  # what this closed network needs (see the machine notes)
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(url: str, profile: Path, screenshot: Path | None = None) -> str:
    """The page as real headless Chromium renders it (its DOM), optionally a screenshot."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    if screenshot is not None:
        shot = [exe, *flags, f"--screenshot={screenshot}", "--window-size=1280,4200", url]
        subprocess.run(shot, capture_output=True, timeout=120, check=True)
        assert screenshot.stat().st_size > 10_000, "blank screenshot"
    done = subprocess.run([exe, *flags, "--dump-dom", url], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


def text_by_id(dom: str, element_id: str) -> str:
    """The text of the element with this id in a rendered DOM, with that of the elements in
    it (a figure that links to its evidence)."""

    class Element(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tag: str | None = None
            self.depth = 0  # of elements named like it, inside it
            self.text: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if self.tag is None and self.text is None and ("id", element_id) in attrs:
                self.tag, self.text = tag, ""
            elif tag == self.tag:
                self.depth += 1

        def handle_endtag(self, tag: str) -> None:
            if tag == self.tag:
                self.depth -= 1
                if self.depth < 0:
                    self.tag = None

        def handle_data(self, data: str) -> None:
            if self.tag is not None and self.text is not None:
                self.text += data

    parser = Element()
    parser.feed(dom)
    assert parser.text is not None, f"no element #{element_id} on the page"
    return parser.text.strip()


def table_rows(dom: str, table_id: str) -> list[list[str]]:
    """The cells' texts, row by row, of the table with this id in a rendered DOM."""

    class Table(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth = 0
            self.rows: list[list[str]] = []
            self.cell: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "table" and (self.depth or ("id", table_id) in attrs):
                self.depth += 1
            elif self.depth and tag == "tr":
                self.rows.append([])
            elif self.depth and tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag: str) -> None:
            if tag == "table" and self.depth:
                self.depth -= 1
            elif self.cell is not None and tag in ("td", "th"):
                self.rows[-1].append(self.cell.strip())
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell += data

    parser = Table()
    parser.feed(dom)
    assert parser.rows, f"no table #{table_id} on the page"
    return parser.rows


async def graphql(
    url: str, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    """The data of a query that must answer without errors (as an auditor of every
    department unless another token is given)."""
    headers = {"authorization": f"Bearer {token or gateway.token()}"}
    async with httpx.AsyncClient(headers=headers) as client:
        response = await client.post(url, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert body.get("errors") is None, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One direction of a test's TCP proxy: the bytes read, written on, until either side
    closes."""
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def fetch(dsn: str, sql: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()
