"""The Kafka security variables (services.common.settings.KafkaSettings): how they are
checked, and the client options built from them (services.common.kafka): faststream's
security object, aiokafka's keyword arguments and the TLS context."""

from __future__ import annotations

import datetime
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from services.common.kafka import broker_security, client_options, ssl_context
from services.common.settings import KafkaSettings

SECURITY_VARIABLES = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "KAFKA_SSL_CHECK_HOSTNAME",
)
PASSWORD = "s3cr3t-pa55"
SASL = {
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "ledger",
    "KAFKA_SASL_PASSWORD": PASSWORD,
}
SECURITY_CLASSES = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}

# A self-signed CA certificate (the public part only; its key was thrown away), valid until
# 2125: what KAFKA_SSL_CAFILE points to in these tests.
TEST_CA_SUBJECT = "public-ledger unit-test CA"
TEST_CA = """-----BEGIN CERTIFICATE-----
MIIBTTCB9KADAgECAgEBMAoGCCqGSM49BAMCMCUxIzAhBgNVBAMMGnB1YmxpYy1s
ZWRnZXIgdW5pdC10ZXN0IENBMCAXDTI2MDEwMTAwMDAwMFoYDzIxMjUxMjA4MDAw
MDAwWjAlMSMwIQYDVQQDDBpwdWJsaWMtbGVkZ2VyIHVuaXQtdGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABJIMmxeL7Isa2d6/jp5qvbbePy5g4bD3wHCB
5uWoEngFzO7CNoFwV7G/bVqV3qb6tGkXWwwNRcz4mNcZ6buRc4SjEzARMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAJ4v35Vt0EQH3ZRNISLf9tI+
GQxMweCcBk2kiF2V5H8DAiBe1c1PhPaX+9PU4DU2dwiGoQaksAbzqn9BE5rpkdIM
Cg==
-----END CERTIFICATE-----
"""


@pytest.fixture(autouse=True)
def no_security_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECURITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text(TEST_CA)
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``env(NAME=value, ...)``: KafkaSettings read from an environment holding these."""

    def read(**variables: str | Path) -> KafkaSettings:
        for name, value in variables.items():
            monkeypatch.setenv(name, str(value))
        return KafkaSettings()

    return read


def refusal(env: Any, **variables: str | Path) -> str:
    with pytest.raises(ValidationError) as raised:
        env(**variables)
    return str(raised.value)


# --- the settings ------------------------------------------------------------------------


def test_plaintext_when_nothing_is_set(env: Any) -> None:
    settings = env()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.kafka_ssl_check_hostname is True
    assert client_options(settings) == {}
    assert broker_security(settings) is None
    assert ssl_context(settings) is None


def test_values_in_any_case_and_blank_variables_unset(env: Any) -> None:
    settings = env(
        KAFKA_SECURITY_PROTOCOL=" sasl_plaintext ",
        KAFKA_SASL_MECHANISM="scram-sha-256",
        KAFKA_SASL_USERNAME="ledger",
        KAFKA_SASL_PASSWORD=PASSWORD,
        KAFKA_SSL_CAFILE="",  # an env file's empty placeholder
    )
    assert settings.kafka_security_protocol == "SASL_PLAINTEXT"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-256"
    assert settings.kafka_ssl_cafile is None


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("missing", sorted(SASL))
def test_sasl_protocol_needs_mechanism_username_and_password(
    env: Any, protocol: str, missing: str
) -> None:
    given = {name: value for name, value in SASL.items() if name != missing}
    message = refusal(env, KAFKA_SECURITY_PROTOCOL=protocol, **given)
    assert f"KAFKA_SECURITY_PROTOCOL={protocol} needs {missing}" in message
    assert PASSWORD not in message


def test_unknown_protocol_or_mechanism_is_named(env: Any) -> None:
    message = refusal(env, KAFKA_SECURITY_PROTOCOL="TLS")
    assert "KAFKA_SECURITY_PROTOCOL='TLS': expected one of PLAINTEXT, SSL" in message
    message = refusal(
        env, KAFKA_SECURITY_PROTOCOL="SASL_SSL", **{**SASL, "KAFKA_SASL_MECHANISM": "GSSAPI"}
    )
    assert (
        "KAFKA_SASL_MECHANISM='GSSAPI': expected one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"
        in message
    )
    assert PASSWORD not in message


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_credentials_without_a_sasl_protocol_are_refused(env: Any, protocol: str) -> None:
    """Credentials the protocol would not send mean a misconfiguration: never ignored."""
    message = refusal(env, KAFKA_SECURITY_PROTOCOL=protocol, KAFKA_SASL_USERNAME="ledger")
    assert "KAFKA_SASL_USERNAME set, but" in message
    assert f"KAFKA_SECURITY_PROTOCOL={protocol} does not authenticate" in message


def test_tls_files_without_a_tls_protocol_are_refused(env: Any, ca_file: Path) -> None:
    message = refusal(
        env, KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SSL_CAFILE=ca_file, **SASL
    )
    assert (
        "KAFKA_SSL_CAFILE set, but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use TLS"
        in message
    )


@pytest.mark.parametrize(
    "variable", ["KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE"]
)
def test_a_tls_file_that_does_not_exist_is_named(
    env: Any, ca_file: Path, tmp_path: Path, variable: str
) -> None:
    files = {
        "KAFKA_SSL_CAFILE": ca_file,
        "KAFKA_SSL_CERTFILE": ca_file,
        "KAFKA_SSL_KEYFILE": ca_file,
    }
    files[variable] = tmp_path / "missing.pem"
    message = refusal(env, KAFKA_SECURITY_PROTOCOL="SSL", **files)
    assert f"{variable}={tmp_path / 'missing.pem'}: no such file" in message


def test_a_key_needs_its_certificate(env: Any, ca_file: Path) -> None:
    message = refusal(env, KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_KEYFILE=ca_file)
    assert "KAFKA_SSL_KEYFILE set without KAFKA_SSL_CERTFILE" in message


def test_the_password_is_never_shown(env: Any) -> None:
    settings = env(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", **SASL)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == PASSWORD


# --- what the clients get ----------------------------------------------------------------


def _same_as_faststream(settings: KafkaSettings) -> None:
    """aiokafka's options are what faststream itself derives from the security object."""
    ours, theirs = client_options(settings), parse_security(broker_security(settings))
    if theirs.get("ssl_context") is None:
        theirs.pop("ssl_context", None)
    assert {k: v for k, v in ours.items() if k != "ssl_context"} == {
        k: v for k, v in theirs.items() if k != "ssl_context"
    }
    assert ("ssl_context" in ours) == ("ssl_context" in theirs)


@pytest.mark.parametrize("mechanism", sorted(SECURITY_CLASSES))
def test_sasl_plaintext(env: Any, mechanism: str) -> None:
    settings = env(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", **{**SASL, "KAFKA_SASL_MECHANISM": mechanism}
    )
    security = broker_security(settings)
    assert type(security) is SECURITY_CLASSES[mechanism]
    assert isinstance(security, SASLPlaintext | SASLScram256 | SASLScram512)
    assert (security.username, security.password) == ("ledger", PASSWORD)
    assert security.use_ssl is False and security.ssl_context is None
    assert client_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "ledger",
        "sasl_plain_password": PASSWORD,
    }
    _same_as_faststream(settings)


@pytest.mark.parametrize("mechanism", sorted(SECURITY_CLASSES))
def test_sasl_ssl(env: Any, ca_file: Path, mechanism: str) -> None:
    settings = env(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SSL_CAFILE=ca_file,
        **{**SASL, "KAFKA_SASL_MECHANISM": mechanism},
    )
    security = broker_security(settings)
    assert type(security) is SECURITY_CLASSES[mechanism]
    assert isinstance(security, SASLPlaintext | SASLScram256 | SASLScram512)
    assert (security.username, security.password) == ("ledger", PASSWORD)
    assert security.use_ssl is True and isinstance(security.ssl_context, ssl.SSLContext)
    options = client_options(settings)
    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "ledger",
        "sasl_plain_password": PASSWORD,
    }
    _same_as_faststream(settings)


def test_ssl(env: Any, ca_file: Path) -> None:
    settings = env(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=ca_file)
    security = broker_security(settings)
    assert type(security) is BaseSecurity  # not a SASL one: no authentication
    assert security.use_ssl is True and isinstance(security.ssl_context, ssl.SSLContext)
    options = client_options(settings)
    assert options.keys() == {"security_protocol", "ssl_context"}
    assert options["security_protocol"] == "SSL"
    _same_as_faststream(settings)


def test_the_tls_context_trusts_the_ca_file_and_checks_the_host(env: Any, ca_file: Path) -> None:
    context = ssl_context(env(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=ca_file))
    assert context is not None
    subjects = [ca["subject"] for ca in context.get_ca_certs()]
    assert ((("commonName", TEST_CA_SUBJECT),),) in subjects
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_host_name_check_can_be_turned_off_not_the_certificate_check(
    env: Any, ca_file: Path
) -> None:
    settings = env(
        KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=ca_file, KAFKA_SSL_CHECK_HOSTNAME="false"
    )
    context = ssl_context(settings)
    assert context is not None
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_without_a_ca_file_the_system_cas_are_trusted(env: Any) -> None:
    context = ssl_context(env(KAFKA_SECURITY_PROTOCOL="SSL"))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED


def test_a_client_certificate_is_loaded(env: Any, tmp_path: Path, ca_file: Path) -> None:
    """Mutual TLS: the certificate and its key are loaded; a key of another one is refused."""
    crypto = pytest.importorskip("cryptography", reason="needs the cryptography package")
    del crypto
    cert, key, other_key = _client_certificate(tmp_path)
    settings = env(
        KAFKA_SECURITY_PROTOCOL="SSL",
        KAFKA_SSL_CAFILE=ca_file,
        KAFKA_SSL_CERTFILE=cert,
        KAFKA_SSL_KEYFILE=key,
    )
    assert ssl_context(settings) is not None
    with pytest.raises(ssl.SSLError):
        ssl_context(settings.model_copy(update={"kafka_ssl_keyfile": other_key}))


def _client_certificate(folder: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def key_file(name: str) -> tuple[Path, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        path = folder / name
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return path, key

    key_path, key = key_file("client.key")
    other_path, _ = key_file("other.key")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "budget")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / "client.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, other_path


async def test_aiokafka_clients_accept_the_options(env: Any, ca_file: Path) -> None:
    """aiokafka checks the combination (an SSL protocol needs a context, SASL a mechanism)."""
    settings = env(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SSL_CAFILE=ca_file, **SASL)
    options = client_options(settings)
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", **options)
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", **options)
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:9", **options)
    await producer.stop()
    await consumer.stop()
    await admin.close()


def test_the_services_brokers_connect_as_configured(
    env: Any, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's and performance's faststream brokers get the security object."""
    from services.ledger import bootstrap as ledger
    from services.ledger.settings import LedgerSettings
    from services.performance import bootstrap as performance
    from services.performance.settings import PerformanceSettings

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/nothing")
    env(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SSL_CAFILE=ca_file, **SASL)
    with socket.socket() as probes:  # where /healthz, /readyz, /metrics would be served
        apps = [
            ledger.build_app(LedgerSettings(), probes),
            performance.build_app(PerformanceSettings(), probes),
        ]
    for app in apps:
        assert app.broker is not None
        security = app.broker.specification.security
        assert type(security) is SASLScram512
        assert security.username == "ledger" and security.use_ssl is True
