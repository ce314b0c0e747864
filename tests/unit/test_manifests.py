"""The Kubernetes manifests (deploy/k8s), checked without a cluster or kubectl: each
kustomization is rendered here (render(), for the kustomize features the manifests use),
and every object validated against the API schemas of a pinned Kubernetes version
(kubernetes-validate, offline). Then what no schema sees: probes on /healthz and /readyz
at declared ports, requests and limits, variables the code reads (a misspelt one would be
ignored), the references to ConfigMaps and Secrets, each container's settings as the
service would load them, least privilege (its own role and secrets only), the security
context, scraping, disruption budgets, and the Jobs' commands."""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.create_topics import TopicSettings
from services.ledger.settings import LedgerSettings
from services.performance.settings import PerformanceSettings
from services.reporting.settings import ReportingSettings
from tests.deployment import known_variables

yaml = pytest.importorskip("yaml", reason="needs PyYAML")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate")

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"  # the oldest minor the manifests support
OVERLAYS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
IMAGES = {  # the image of deploy/Dockerfile: its name in the base, the release in an overlay
    "base": "public-ledger",
    "production": "registry.example.org/public-ledger:0.1.0",
}
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
SERVICES = {"ledger": 8001, "performance": 8002, "reporting": 8000}
SECRET_KEYS = {  # container -> the Secret's keys it may read, and nothing else
    "ledger": {"LEDGER_DB_PASSWORD", "LEDGER_KAFKA_PASSWORD"},
    "performance": {"PERFORMANCE_DB_PASSWORD", "PERFORMANCE_KAFKA_PASSWORD"},
    "reporting": {"REPORTING_DB_PASSWORD", "REPORTING_KAFKA_PASSWORD", "AUTH_JWT_SECRET"},
    "provision": {"DATABASE_ADMIN_PASSWORD", *(f"{s.upper()}_DB_PASSWORD" for s in SERVICES)},
    "topics": {"KAFKA_ADMIN_PASSWORD"},
    "replay": {"PERFORMANCE_DB_PASSWORD"},
}
SETTINGS = {  # a container's command -> the settings it loads
    "services.ledger": LedgerSettings,
    "services.performance": PerformanceSettings,
    "services.reporting": ReportingSettings,
    "deploy.create_topics": TopicSettings,
    "performance replay": PerformanceSettings,
}


# -- kustomize, as far as deploy/k8s uses it ------------------------------------------------


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]


def _env_file(path: Path) -> dict[str, str]:
    """An env file of a generator. One the operator writes (secrets.env, not committed) is
    read from the example beside it (secrets.env.example)."""
    if not path.exists():
        path = path.with_name(path.name + ".example")
    lines = path.read_text("utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): value.strip() for name, value in pairs}


def _generated(kind: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": data}
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "type": "Opaque",
            "data": encoded}  # fmt: skip


def data_of(obj: dict[str, Any]) -> dict[str, str]:
    data = obj.get("data", {})
    if obj["kind"] == "Secret":
        return {k: base64.b64decode(v).decode() for k, v in data.items()}
    return dict(data)


def _generate(
    directory: Path, kustomization: dict[str, Any], objects: list[dict[str, Any]]
) -> None:
    for kind, field in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in kustomization.get(field, []):
            data: dict[str, str] = {}
            for env in generator.get("envs", []):
                data |= _env_file(directory / env)
            data |= dict(literal.split("=", 1) for literal in generator.get("literals", []))
            name, behavior = generator["name"], generator.get("behavior", "create")
            same = [o for o in objects if (o["kind"], o["metadata"]["name"]) == (kind, name)]
            if behavior == "create":
                assert not same, f"{kind} {name} generated twice"
                objects.append(_generated(kind, name, data))
                continue
            (existing,) = same
            merged = {**data_of(existing), **data} if behavior == "merge" else data
            existing.update(_generated(kind, name, merged))


def merge(base: Any, patch: Any) -> Any:
    """A strategic merge patch: maps merged, lists of named items merged by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{k: merge(base[k], v) if k in base else v for k, v in patch.items()}}
    named = isinstance(base, list) and isinstance(patch, list)
    if named and all(isinstance(i, dict) and "name" in i for i in [*base, *patch]):
        patches = {item["name"]: item for item in patch}
        kept = [merge(item, patches.pop(item["name"], {})) for item in base]
        return kept + list(patches.values())
    return patch


def render(directory: Path) -> list[dict[str, Any]]:
    """``kustomize build directory``, without the names' hash suffixes."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    supported = {"apiVersion", "kind", "resources", "configMapGenerator", "secretGenerator",
                 "images", "namespace", "replicas", "patches"}  # fmt: skip
    assert set(kustomization) <= supported, set(kustomization) - supported
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects += render(path) if path.is_dir() else _documents(path)
    _generate(directory, kustomization, objects)
    for patch in kustomization.get("patches", []):
        for document in _documents(directory / patch["path"]):
            key = (document["kind"], document["metadata"]["name"])
            (index,) = [
                i for i, o in enumerate(objects) if (o["kind"], o["metadata"]["name"]) == key
            ]
            objects[index] = merge(objects[index], document)
    for replicas in kustomization.get("replicas", []):
        (deployment,) = [o for o in objects if o["kind"] == "Deployment"
                         and o["metadata"]["name"] == replicas["name"]]  # fmt: skip
        deployment["spec"]["replicas"] = replicas["count"]
    for image in kustomization.get("images", []):
        for _, container in containers(objects):
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = f"{image['newName']}:{image['newTag']}"
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, its pod template) of every workload."""
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            yield obj, spec["template"]


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for obj, template in pod_specs(objects):
        for container in template["spec"]["containers"]:
            yield obj, container


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(OVERLAYS[request.param])


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if (o["kind"], o["metadata"]["name"]) == (kind, name)]
    return found


# -- the environment of a container -------------------------------------------------------


def variable_problems(container: dict[str, Any]) -> list[str]:
    """Variables no code reads (unless only a part of a later variable's value or of the
    arguments: $(NAME)), and references to variables not defined before."""
    problems: list[str] = []
    defined: list[str] = []
    referenced: set[str] = set()
    for entry in container.get("env", []):
        names = REFERENCE.findall(entry.get("value", ""))
        problems += [f"{entry['name']} refers to $({n}), not defined before it"
                     for n in names if n not in defined]  # fmt: skip
        referenced |= set(names)
        defined.append(entry["name"])
    for word in [*container.get("command", []), *container.get("args", [])]:
        names = REFERENCE.findall(word)
        problems += [f"an argument refers to $({n}), not defined" for n in names
                     if n not in defined]  # fmt: skip
        referenced |= set(names)
    unknown = set(defined) - known_variables() - referenced
    return problems + [f"{name}: no code reads it" for name in sorted(unknown)]


def environment(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The container's variables as the kubelet gives them (references resolved)."""
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        source = entry.get("valueFrom", {})
        if "value" in entry:
            value = REFERENCE.sub(lambda m: env[m.group(1)], entry["value"])
        else:
            ((kind, ref),) = [(k, source[k]) for k in ("configMapKeyRef", "secretKeyRef")
                              if k in source]  # fmt: skip
            kind = "ConfigMap" if kind == "configMapKeyRef" else "Secret"
            value = data_of(_find(objects, kind, ref["name"]))[ref["key"]]
        env[entry["name"]] = value
    return env


def _command(container: dict[str, Any]) -> str:
    words = [*container["command"], *container.get("args", [])]
    return " ".join(words[2:3]) if words[:2] == ["python", "-m"] else " ".join(words[:2])


# -- the tests ----------------------------------------------------------------------------


def test_the_pinned_kubernetes_version_is_known_offline() -> None:
    supported = kubernetes_validate.utils.all_versions()
    assert KUBERNETES_VERSION in supported, supported


def test_every_manifest_follows_the_kubernetes_api(rendered: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in rendered}
    assert {"Deployment", "Service", "PodDisruptionBudget", "Job", "CronJob", "ConfigMap",
            "Secret"} <= kinds  # fmt: skip
    for obj in rendered:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {error.message} at "
                        f"{'.'.join(map(str, error.path))}")  # fmt: skip


def test_probes_ask_healthz_and_readyz_on_declared_ports(rendered: list[dict[str, Any]]) -> None:
    deployments = [o for o in rendered if o["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == set(SERVICES)
    for _, container in containers(deployments):
        ports = container["ports"]
        declared = {p["name"] for p in ports} | {p["containerPort"] for p in ports}
        assert [p["containerPort"] for p in ports] == [SERVICES[container["name"]]]
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                            ("startupProbe", "/healthz")):  # fmt: skip
            http = container[probe]["httpGet"]
            assert http["path"] == path, (container["name"], probe)
            assert http["port"] in declared, (container["name"], probe)


def _quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    text = str(value)
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def test_every_container_has_requests_and_limits(rendered: list[dict[str, Any]]) -> None:
    for _, container in containers(rendered):
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            request = _quantity(resources["requests"][resource])
            assert 0 < request <= _quantity(resources["limits"][resource]), container["name"]


def test_containers_get_only_variables_the_code_reads(rendered: list[dict[str, Any]]) -> None:
    problems = {c["name"]: p for _, c in containers(rendered) if (p := variable_problems(c))}
    assert not problems, problems


def test_a_misspelt_variable_is_caught(rendered: list[dict[str, Any]]) -> None:
    ledger = copy.deepcopy(next(c for _, c in containers(rendered) if c["name"] == "ledger"))
    ledger["env"].append({"name": "LEDGER_BACTH_SIZE", "value": "500"})
    ledger["env"][2]["value"] += "$(LEDGER_DB_PASWORD)"
    assert {
        "DATABASE_URL refers to $(LEDGER_DB_PASWORD), not defined before it",
        "LEDGER_BACTH_SIZE: no code reads it",
    } <= set(variable_problems(ledger))


def test_each_container_loads_its_settings_with_its_own_role(
    rendered: list[dict[str, Any]],
) -> None:
    """What each container's settings make of its environment (the example secrets):
    they load, the DSN names the service's own role, and it reads only its own secrets."""
    roles = {"ledger": "ledger_service", "performance": "performance_service",
             "reporting": "reporting_service", "replay": "performance_service"}  # fmt: skip
    seen = set()
    for _, container in containers(rendered):
        name, env = container["name"], environment(rendered, container)
        seen.add(name)
        secrets = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]
                   if "secretKeyRef" in e.get("valueFrom", {})}  # fmt: skip
        assert secrets == SECRET_KEYS[name], name
        settings = SETTINGS.get(_command(container))
        if settings is not None:
            settings.model_validate({k.lower(): v for k, v in env.items()})
        if name in roles:
            assert env["DATABASE_URL"].startswith(f"postgresql://{roles[name]}:"), name
    assert seen == set(SECRET_KEYS)
    provision = next(c for _, c in containers(rendered) if c["name"] == "provision")
    assert environment(rendered, provision)["DATABASE_URL"].startswith("postgresql://")


def test_configuration_and_secrets_are_apart(rendered: list[dict[str, Any]]) -> None:
    for config in (o for o in rendered if o["kind"] == "ConfigMap"):
        assert not [k for k in config["data"] if k.endswith(("PASSWORD", "SECRET"))]
    for _, container in containers(rendered):
        for entry in container.get("env", []):
            if entry["name"].endswith(("_PASSWORD", "_SECRET")):
                assert "secretKeyRef" in entry["valueFrom"], (container["name"], entry["name"])
    (secret,) = [o for o in rendered if o["kind"] == "Secret"]
    assert set(data_of(secret).values()) == {"change-me"}  # the examples, marked to replace


def test_production_replaces_the_example_secrets_from_an_uncommitted_file() -> None:
    overlay = yaml.safe_load((OVERLAYS["production"] / "kustomization.yaml").read_text("utf-8"))
    (generator,) = overlay["secretGenerator"]
    assert generator["behavior"] == "replace" and generator["envs"] == ["secrets.env"]
    assert "deploy/k8s/overlays/production/secrets.env" in (ROOT / ".gitignore").read_text()
    example = _env_file(OVERLAYS["production"] / "secrets.env.example")
    assert example.keys() == _env_file(OVERLAYS["base"] / "secrets.example.env").keys()


def test_pods_run_unprivileged_on_a_read_only_root(rendered: list[dict[str, Any]]) -> None:
    for obj, template in pod_specs(rendered):
        spec, name = template["spec"], obj["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 65534, name  # the image's USER
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name  # no <SERVICE>_PORT variables
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}, name


def test_the_pods_are_scraped_where_they_serve_metrics(rendered: list[dict[str, Any]]) -> None:
    for obj, template in pod_specs(rendered):
        annotations = template["metadata"].get("annotations", {})
        if obj["kind"] == "Job":  # the one-shots serve nothing
            assert not annotations
            continue
        (container,) = template["spec"]["containers"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        ports = [p["containerPort"] for p in container["ports"]]
        assert int(annotations["prometheus.io/port"]) in ports, obj["metadata"]["name"]
    replay = _find(rendered, "CronJob", "performance-replay")
    (container,) = replay["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert environment(rendered, container)["REPLAY_METRICS_PORT"] == "9102"


def test_services_and_budgets_select_the_pods(rendered: list[dict[str, Any]]) -> None:
    deployments = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Deployment"}

    def selected(selector: dict[str, str]) -> list[str]:
        labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
        return [name for name, pod in labels.items() if selector.items() <= pod.items()]

    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= (
            deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        budget = _find(rendered, "PodDisruptionBudget", name)
        assert selected(budget["spec"]["selector"]["matchLabels"]) == [name]
    services = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Service"}
    assert set(services) == {"reporting", "ledger-metrics", "performance-metrics"}
    for service in services.values():
        (target,) = selected(service["spec"]["selector"])
        (container,) = deployments[target]["spec"]["template"]["spec"]["containers"]
        names = {p["name"] for p in container["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


def test_the_jobs_provision_create_topics_and_replay(rendered: list[dict[str, Any]]) -> None:
    commands = {c["name"]: [*c["command"], *c.get("args", [])] for _, c in containers(rendered)}
    assert commands["provision"] == ["python", "-m", "deploy.provision"]
    assert commands["topics"] == ["python", "-m", "deploy.create_topics"]
    assert commands["replay"][:4] == ["performance", "replay", "--fiscal-year",
                                      "$(REPLAY_FISCAL_YEAR)"]  # fmt: skip
    replay = _find(rendered, "CronJob", "performance-replay")
    assert replay["spec"]["suspend"] is True  # a template: `kubectl create job --from=...`
    for name in ("provision", "topics"):
        job = _find(rendered, "Job", name)
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        assert job["spec"]["ttlSecondsAfterFinished"] > 0


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_the_image_is_the_one_built_from_the_dockerfile(overlay: str) -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text("utf-8")
    (exposed,) = re.findall(r"^EXPOSE (.+)$", dockerfile, flags=re.M)
    assert re.findall(r"^USER (\d+):(\d+)$", dockerfile, flags=re.M) == [("65534", "65534")]
    for _, container in containers(render(OVERLAYS[overlay])):
        assert container["image"] == IMAGES[overlay], container["name"]
        for port in container.get("ports", []):
            assert str(port["containerPort"]) in exposed.split(), container["name"]
