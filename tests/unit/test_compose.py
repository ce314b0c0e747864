"""docker-compose.yml, checked without a Docker engine: against the Compose Specification's
JSON schema, and for what no schema sees (the variables of deploy/compose.env.example, the
broker's configuration as the apache/kafka image derives it, the principals, their ACLs in
deploy/kafka/acls.sh, the certificates of deploy/kafka/make-certs.sh, restart policies and
healthchecks, the variables given to the services, the topics' replication, and the
monitoring profile's Prometheus and Grafana with what they mount).

deploy/compose/compose-spec.json is the schema of the Compose Specification as the npm
package dclint 3.1.0 ships it (schemas/compose.schema.json, unchanged).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.kafka import client_options
from services.common.settings import KafkaSettings, Topics
from services.ledger.settings import LedgerSettings
from services.performance.settings import PerformanceSettings
from tests.deployment import unknown_variables

yaml = pytest.importorskip("yaml", reason="needs PyYAML")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
KAFKA_SCRIPTS = ROOT / "deploy" / "kafka"
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")
SERVICE_ROLES = {
    "ledger": "ledger_service",
    "performance": "performance_service",
    "reporting": "reporting_service",
}
UPSTREAM = {"budget": "budget_events", "procurement": "procurement_events", "cases": "case_events"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))  # type: ignore[no-any-return]


def _example() -> dict[str, str]:
    """deploy/compose.env.example's variables and (placeholder) values."""
    found = {}
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            found[name.strip()] = value.strip()
    return found


def _interpolated(value: str, env: dict[str, str]) -> str:
    """A compose value with its ${...} replaced as `docker compose --env-file` would."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        default = match.group(0)[len(name) + 2 : -1]
        if name in env:
            return env[name]
        assert default.startswith((":-", "-")), f"{name} has no value and no default"
        return default.lstrip(":-")

    return VARIABLE.sub(one, value)


def _environment(service: str, env: dict[str, str] | None = None) -> dict[str, str]:
    env = env if env is not None else _example()
    raw = _compose()["services"][service].get("environment", {})
    return {k: _interpolated(str(v), env) for k, v in raw.items()}


def test_the_compose_file_follows_the_compose_specification() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema")
    schema = json.loads((ROOT / "deploy" / "compose" / "compose-spec.json").read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert not errors, "\n".join(errors)


def test_every_variable_has_a_placeholder_and_no_secret_is_real() -> None:
    example = _example()
    used = set(VARIABLE.findall(COMPOSE.read_text("utf-8")))
    assert used - set(example) == set(), "missing from deploy/compose.env.example"
    assert set(example) - used == set(), "deploy/compose.env.example has unused variables"
    secrets = {k: v for k, v in example.items() if k.endswith(("_PASSWORD", "_SECRET"))}
    assert secrets and set(secrets.values()) == {"change-me"}


def test_no_container_gets_every_secret() -> None:
    """Secrets are interpolated per container, never handed out by a shared env_file."""
    services = _compose()["services"]
    assert not [name for name, service in services.items() if "env_file" in service]
    passwords = {
        name: {k for k in VARIABLE.findall(json.dumps(s)) if k.endswith("_PASSWORD")}
        for name, s in services.items()
    }
    assert passwords["ledger"] == {"LEDGER_KAFKA_PASSWORD", "LEDGER_DB_PASSWORD"}
    assert passwords["performance"] == {"PERFORMANCE_KAFKA_PASSWORD", "PERFORMANCE_DB_PASSWORD"}
    assert passwords["reporting"] == {"REPORTING_KAFKA_PASSWORD", "REPORTING_DB_PASSWORD"}


def test_the_services_run_under_their_own_roles_once_provisioned() -> None:
    services = _compose()["services"]
    provision = services["provision"]
    assert provision["command"] == ["python", "-m", "deploy.provision"]
    owner = _environment("provision")["DATABASE_URL"]
    assert owner.startswith("postgresql://postgres:") and owner.endswith("@postgres:5432/ledger")
    assert {"LEDGER_DB_PASSWORD", "PERFORMANCE_DB_PASSWORD", "REPORTING_DB_PASSWORD"} <= set(
        provision["environment"]
    )
    for name, role in SERVICE_ROLES.items():
        service = services[name]
        assert service["depends_on"]["provision"] == {"condition": "service_completed_successfully"}
        dsn = service["environment"]["DATABASE_URL"]
        password = f"${{{name.upper()}_DB_PASSWORD:?set in deploy/compose.env}}"
        assert dsn == f"postgresql://{role}:{password}@postgres:5432/ledger"
    for name in ("ledger", "performance"):
        for one_shot in ("topics", "kafka-acls"):
            condition = services[name]["depends_on"][one_shot]
            assert condition == {"condition": "service_completed_successfully"}
    assert services["topics"]["command"] == ["python", "-m", "deploy.create_topics"]


def _broker_properties() -> dict[str, str]:
    """The server properties the apache/kafka image writes from the container's KAFKA_*
    variables (KafkaDockerWrapper: prefix dropped, lower case, _ -> ., __ -> _, ___ -> -)."""
    props = {}
    for key, value in _environment("kafka").items():
        if key.startswith("KAFKA_") and key not in ("KAFKA_OPTS", "KAFKA_HEAP_OPTS"):
            name = key.replace("KAFKA_", "").lower().replace("_", ".")
            props[name.replace("...", "-").replace("..", "_")] = value
    return props


def test_the_broker_keeps_its_data_and_cluster_id() -> None:
    kafka = _compose()["services"]["kafka"]
    props = _broker_properties()
    mounts = {v.split(":")[1]: v.split(":")[0] for v in kafka["volumes"]}
    assert mounts["/var/lib/kafka/data"] == "kafka-data"  # a named volume
    assert props["log.dirs"].startswith("/var/lib/kafka/data/")
    # from deploy/compose.env, never a default: a new id would not start on the volume
    assert kafka["environment"]["CLUSTER_ID"] == "${KAFKA_CLUSTER_ID:?set in deploy/compose.env}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", _environment("kafka")["CLUSTER_ID"])


def test_the_broker_listeners_and_authentication() -> None:
    props = _broker_properties()
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert protocols == {
        "CONTROLLER": "PLAINTEXT",
        "INTERNAL": "SASL_PLAINTEXT",
        "EXTERNAL": "SASL_SSL",
    }
    assert props["advertised.listeners"].split(",")[0] == "INTERNAL://kafka:9092"
    # the image checks (and wants JKS files for) listener *names* with SSL:// or SASL_
    assert "SSL://" not in props["advertised.listeners"]
    assert "SASL_" not in props["advertised.listeners"]
    assert "CONTROLLER://localhost:" in props["listeners"]
    assert props["sasl.enabled.mechanisms"] == "PLAIN"
    assert props["listener.name.external.ssl.keystore.type"] == "PEM"
    secrets_mount = "/etc/kafka/secrets/"
    assert props["listener.name.external.ssl.keystore.location"].startswith(secrets_mount)
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert "User:admin" in props["super.users"].split(";")
    # no client variable of ours reaches the broker (it would become a bogus property)
    assert not {p for p in props if p.startswith(("sasl.username", "sasl.password", "ssl.cafile"))}


def _jaas_users(listener: str) -> dict[str, str]:
    jaas = _broker_properties()[f"listener.name.{listener}.plain.sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.plain.PlainLoginModule required ")
    assert jaas.endswith(";")
    return dict(re.findall(r'user_([a-z]+)="([^"]*)"', jaas))


def test_each_client_logs_in_as_its_own_principal() -> None:
    internal, external = _jaas_users("internal"), _jaas_users("external")
    assert set(external) == {*UPSTREAM, "operator"}
    example = _example()
    for container in ("topics", "ledger", "performance", "reporting"):
        env = _environment(container)
        settings = KafkaSettings.model_validate(
            {k.lower(): v for k, v in env.items() if k.startswith("KAFKA_")}
        )
        options = client_options(settings)
        user = options["sasl_plain_username"]
        assert options["security_protocol"] == "SASL_PLAINTEXT"
        assert options["sasl_mechanism"] == "PLAIN"
        assert internal[user] == options["sasl_plain_password"]
        assert user == ("admin" if container == "topics" else container)
    assert example["KAFKA_ADMIN_PASSWORD"] == internal["admin"]


def _acl_commands(tmp_path: Path, **env: str) -> list[list[str]]:
    """The kafka-acls.sh commands of deploy/kafka/acls.sh, run with a stand-in admin.sh."""
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    shutil.copy(KAFKA_SCRIPTS / "acls.sh", tmp_path / "acls.sh")
    (tmp_path / "admin.sh").write_text('shift; printf "%q " "$@"; echo\n')
    done = subprocess.run(
        ["bash", str(tmp_path / "acls.sh")],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return [shlex.split(line) for line in done.stdout.splitlines() if "--add" in line]


def _grants(commands: list[list[str]]) -> dict[str, set[tuple[str, str, str]]]:
    """principal -> {(resource type, name, operation)} granted."""
    grants: dict[str, set[tuple[str, str, str]]] = {}
    for command in commands:
        words = [word for word in command if word != "--add"]
        pairs = list(zip(words[::2], words[1::2], strict=True))
        principal = next(v for k, v in pairs if k == "--allow-principal").removeprefix("User:")
        operations = [v for k, v in pairs if k == "--operation"]
        resources = [(k.removeprefix("--"), v) for k, v in pairs if k in ("--topic", "--group")]
        grants.setdefault(principal, set()).update(
            (kind, name, op) for kind, name in resources for op in operations
        )
    return grants


def test_the_acls_give_each_principal_what_it_needs_only(tmp_path: Path) -> None:
    topics = Topics()
    grants = _grants(_acl_commands(tmp_path))
    upstream = [topics.budget_events, topics.procurement_events, topics.case_events]
    inbound = [*upstream, topics.evaluation_events]
    out = [topics.ledger_journal, topics.ledger_rejected]
    ledger_group = LedgerSettings.model_fields["ledger_group_id"].default
    performance_group = PerformanceSettings.model_fields["performance_group_id"].default
    for user, field in UPSTREAM.items():
        topic = getattr(topics, field)
        assert grants[user] == {("topic", topic, "Write"), ("topic", topic, "Describe")}
    assert grants["ledger"] == {
        *{("topic", t, op) for t in inbound for op in ("Read", "Describe")},
        ("group", ledger_group, "Read"),
        *{("topic", t, op) for t in out for op in ("Write", "Read", "Describe")},
    }
    assert grants["performance"] == {
        ("topic", topics.ledger_journal, "Read"),
        ("topic", topics.ledger_journal, "Describe"),
        ("group", performance_group, "Read"),
    }
    publish = ("Write", "Describe")
    assert grants["operator"] == {("topic", t, op) for t in upstream for op in publish}
    assert grants["reporting"] == {("topic", topics.evaluation_events, op) for op in publish}
    assert set(grants) == {*UPSTREAM, "ledger", "performance", "reporting", "operator"}


def test_the_acls_follow_renamed_topics_and_groups(tmp_path: Path) -> None:
    grants = _grants(
        _acl_commands(tmp_path, TOPIC_LEDGER_JOURNAL="prod.journal", LEDGER_GROUP_ID="ledger-prod")
    )
    assert ("group", "ledger-prod", "Read") in grants["ledger"]
    assert ("topic", "prod.journal", "Read") in grants["performance"]


def test_make_certs_writes_a_key_store_the_broker_can_read(tmp_path: Path) -> None:
    """The PEM key store: the broker's certificate (for its names), the CA's, and the key
    as encrypted PKCS#8; ca.pem beside it; the CA's key elsewhere."""
    if shutil.which("openssl") is None or shutil.which("bash") is None:
        pytest.skip("needs openssl and bash")
    pytest.importorskip("cryptography", reason="needs the cryptography package")
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

    secrets, ca_dir = tmp_path / "secrets", tmp_path / "ca"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KAFKA_SSL_KEY_PASSWORD": "key-pass_1",
        "KAFKA_SECRETS_DIR": str(secrets),
        "KAFKA_CA_DIR": str(ca_dir),
    }
    script = str(KAFKA_SCRIPTS / "make-certs.sh")
    subprocess.run(["bash", script, "kafka.example.org", "10.1.2.3"], env=env, check=True)
    assert sorted(p.name for p in secrets.iterdir()) == ["ca.pem", "kafka.keystore.pem"]
    store = (secrets / "kafka.keystore.pem").read_bytes()
    broker, ca = x509.load_pem_x509_certificates(store)
    assert ca.subject == ca.issuer == broker.issuer
    assert (secrets / "ca.pem").read_bytes() == ca.public_bytes(Encoding.PEM)
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"kafka", "kafka.example.org"} <= set(names.get_values_for_type(x509.DNSName))
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in store
    key_pem = store[store.index(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") :]
    key = load_pem_private_key(key_pem, password=b"key-pass_1")
    assert key.public_key().public_numbers() == broker.public_key().public_numbers()  # type: ignore[union-attr]
    assert (ca_dir / "ca.key").exists() and not (secrets / "ca.key").exists()


SERVICE_PORTS = {"ledger": 8001, "performance": 8002, "reporting": 8000}  # /readyz, /metrics
ONE_SHOTS = {"provision", "topics", "kafka-acls"}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """A container's mounts: target -> source."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def _declared_ports(service: dict[str, Any]) -> set[int]:
    published = {int(str(p).split(":")[-1]) for p in service.get("ports", [])}
    return published | {int(p) for p in service.get("expose", [])}


def test_every_container_restarts_by_a_policy_and_the_long_running_report_health() -> None:
    services = _compose()["services"]
    one_shots = {name for name, service in services.items() if service.get("restart") == "no"}
    assert one_shots == {*ONE_SHOTS, "replay"}
    for name, service in services.items():
        if name not in one_shots:
            assert service.get("restart") == "unless-stopped", name
            assert service["healthcheck"]["test"], name
    # a one-shot runs before what needs it, which waits for its success (at every `up`)
    waited = {
        dependency
        for service in services.values()
        for dependency, condition in service.get("depends_on", {}).items()
        if condition == {"condition": "service_completed_successfully"}
    }
    assert waited == ONE_SHOTS
    assert services["replay"]["profiles"] == ["replay"]  # only when an operator runs it


@pytest.fixture
def readyz() -> Iterator[tuple[int, list[int]]]:
    """A local server whose /readyz answers the status in the list (anything else: 404)."""
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0] if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], status
    finally:
        server.shutdown()
        server.server_close()


def test_the_services_healthchecks_ask_their_readyz(readyz: tuple[int, list[int]]) -> None:
    """Each service's healthcheck is the image's Python (no curl in it) asking its /readyz:
    healthy on 200, unhealthy on 503 (run here against a stand-in server)."""
    port, status = readyz
    services = _compose()["services"]
    for name, served in SERVICE_PORTS.items():
        test = services[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], name
        url = f"http://127.0.0.1:{served}/readyz"
        assert url in test[3], name
        here = test[3].replace(url, f"http://127.0.0.1:{port}/readyz")
        for answer, healthy in ((200, True), (503, False)):
            status[0] = answer
            done = subprocess.run([sys.executable, "-c", here], capture_output=True, timeout=30)
            assert (done.returncode == 0) is healthy, (name, answer, done.stderr)
        assert served in _declared_ports(services[name]), name  # reachable by Prometheus
    assert _environment("ledger")["HTTP_HOST"] == _environment("performance")["HTTP_HOST"]
    assert _environment("ledger")["HTTP_HOST"] == "0.0.0.0"  # not only the loopback
    assert _environment("reporting")["GRAPHQL_HOST"] == "0.0.0.0"
    assert services["reporting"]["ports"] == ["8000:8000"]  # the only service on the host
    assert {"ports" in services[name] for name in ("ledger", "performance")} == {False}


def test_the_gateway_starts_once_the_projections_are_ready() -> None:
    depends = _compose()["services"]["reporting"]["depends_on"]
    assert depends["performance"] == {"condition": "service_healthy"}
    assert depends["postgres"] == {"condition": "service_healthy"}


def test_the_containers_of_the_image_get_only_variables_the_code_reads() -> None:
    """A misspelt variable (LEDGER_BACTH_SIZE) would be ignored and its setting keep the
    default: every variable given to a container of deploy/Dockerfile is one the code reads."""
    built = {
        name: set(service.get("environment", {}))
        for name, service in _compose()["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }
    assert set(built) == {*SERVICE_PORTS, "provision", "topics", "replay"}
    unknown = {name: found for name, env in built.items() if (found := unknown_variables(env))}
    assert not unknown, unknown
    assert unknown_variables({"LEDGER_BACTH_SIZE"}) == ["LEDGER_BACTH_SIZE"]


def test_the_topics_get_the_configured_replication() -> None:
    from deploy.create_topics import TopicSettings

    example = _example()
    raw = _compose()["services"]["topics"]["environment"]
    for variable in ("TOPIC_PARTITIONS", "TOPIC_REPLICATION_FACTOR", "TOPIC_MIN_INSYNC_REPLICAS"):
        assert raw[variable].startswith(f"${{{variable}"), variable  # from deploy/compose.env
    env = _environment("topics")
    settings = TopicSettings.model_validate(
        {k.lower(): v for k, v in env.items() if k.startswith(("KAFKA_", "TOPIC_"))}
    )
    assert settings.topic_replication_factor == int(example["TOPIC_REPLICATION_FACTOR"]) == 1
    assert settings.topic_min_insync_replicas == int(example["TOPIC_MIN_INSYNC_REPLICAS"])
    assert settings.topic_partitions == int(example["TOPIC_PARTITIONS"])
    assert "min.insync.replicas" not in _broker_properties()  # the topics' own, not a default


def test_the_monitoring_profile_scrapes_the_services_and_loads_the_alert_rules() -> None:
    services = _compose()["services"]
    monitoring = {n for n, s in services.items() if "monitoring" in s.get("profiles", [])}
    assert monitoring == {"prometheus", "grafana"}
    assert not [n for n, s in services.items() if n not in monitoring and not s.get("profiles")
                and monitoring & set(s.get("depends_on", {}))]  # fmt: skip
    prometheus = services["prometheus"]
    assert _mounts(prometheus)["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text("utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    assert (ROOT / "deploy" / "prometheus" / "alerts.yml").is_file()
    targets = {
        target: static["labels"]["service"]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert {f"{name}:{port}": name for name, port in SERVICE_PORTS.items()}.items() <= (
        targets.items()
    )
    for target in targets:  # each a container of the compose file, on a port it serves
        host, port = target.split(":")
        assert int(port) in _declared_ports(services[host]), target
    assert _environment("replay")["REPLAY_METRICS_PORT"] == "9102"


def test_grafana_gets_the_data_source_and_the_dashboard() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = _mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "ledger.yml").read_text("utf-8"))
    folder = provider["providers"][0]["options"]["path"]
    dashboards = [t for t, source in mounts.items() if source == "./deploy/grafana/dashboard.json"]
    assert [Path(t).parent.as_posix() for t in dashboards] == [folder]
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text("utf-8"))
    (datasource,) = source["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboard.json").read_text("utf-8"))
    (variable,) = dashboard["templating"]["list"]
    assert variable["current"]["value"] == datasource["uid"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?"
    )
