"""deploy/ validated without a Docker engine or a Kubernetes cluster (neither exists on these machines):
the Compose file against the Compose Specification's JSON Schema (vendored by check-jsonschema), every
Kubernetes object of the kustomization against the Kubernetes JSON Schemas (kubernetes-validate), the
operator resources (Strimzi, Prometheus Operator) against the structure the deployment relies on, the
Prometheus configuration with promtool, and every LGSP_ variable against the real settings."""

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from lgsp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.33.0"
#: LGSP_ variables that are not settings, and who reads them.
NOT_SETTINGS = {
    "LGSP_SECRETS_DIR": "Settings.model_config: where secret files are read from",
    "LGSP_HUB_URL": "lgsp fleet --hub",
}
SETTINGS = {f"LGSP_{name}".upper() for name in Settings.model_fields}
OPERATOR_KINDS = {"Kafka", "KafkaNodePool", "ServiceMonitor"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    return loaded


def k8s_objects() -> list[dict[str, Any]]:
    """Every object the kustomization lists (as kustomize would render them, before its labels)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    objects: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        objects += [doc for doc in yaml.safe_load_all((K8S / resource).read_text()) if doc]
    return objects


def compose_schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert compose_schema_errors(compose()) == []


def test_the_compose_validation_rejects_a_broken_file() -> None:
    broken = compose()
    broken["services"]["hub-1"]["restart"] = ["always"]  # a list where a string belongs
    broken["services"]["proxy"]["portz"] = ["8000:8000"]
    assert len(compose_schema_errors(broken)) >= 2


def test_the_compose_deployment_has_the_province_topology() -> None:
    services = compose()["services"]
    assert {
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "postgres",
        "proxy",
        "ngsp",
        "prometheus",
        "alertmanager",
        "grafana",
    } <= set(services)
    hubs = [name for name, s in services.items() if s.get("command") == ["hub"]]
    assert len(hubs) >= 2, "at least two hub processes"
    assert all(
        s["environment"]["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        for n, s in services.items()
        if n.startswith("kafka")
    )


def test_every_file_the_compose_file_mounts_exists() -> None:
    data = compose()
    mounts = [
        v.split(":")[0] for s in data["services"].values() for v in s.get("volumes", []) if v.startswith(".")
    ]
    mounts += [s.get("env_file") for s in data["services"].values() if s.get("env_file")]
    missing = [m for m in mounts if not (COMPOSE / m).exists()]
    assert not missing, missing
    secrets = data["secrets"]
    assert all(s["file"].startswith("./secrets/") for s in secrets.values()), "secrets come from ./secrets"
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/compose/secrets/x"], cwd=ROOT)
    assert ignored.returncode == 0, "deploy/compose/secrets/ must be ignored by git"


def test_the_kubernetes_objects_follow_the_kubernetes_schemas() -> None:
    problems = []
    for obj in k8s_objects():
        if obj["kind"] in OPERATOR_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert not problems, problems


def test_the_kubernetes_validation_rejects_a_broken_object() -> None:
    [deployment] = [
        o for o in k8s_objects() if o["kind"] == "Deployment" and o["metadata"]["name"] == "lgsp-hub"
    ]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_the_hub_deployment_is_probed_and_bounded() -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in k8s_objects()}
    hub = objects[("Deployment", "lgsp-hub")]["spec"]
    container = hub["template"]["spec"]["containers"][0]
    assert hub["replicas"] >= 2
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and hub["template"]["spec"]["securityContext"]["runAsNonRoot"]
    assert ("PodDisruptionBudget", "lgsp-hub") in objects and ("Service", "lgsp-hub") in objects
    assert objects[("Job", "lgsp-migrate")]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "db-upgrade"
    ]


def test_the_operator_resources_say_what_the_deployment_needs() -> None:
    """No CRD schema of Strimzi or the Prometheus Operator is to be had offline: their structure is
    checked here, as far as the deployment depends on it."""
    objects = {o["kind"]: o for o in k8s_objects() if o["kind"] in OPERATOR_KINDS}
    pool, kafka, monitor = objects["KafkaNodePool"], objects["Kafka"], objects["ServiceMonitor"]
    assert pool["apiVersion"] == kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3 and config["min.insync.replicas"] == 2
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "lgsp-hub"}
    bootstrap = next(o for o in k8s_objects() if o["kind"] == "ConfigMap")["data"]["LGSP_KAFKA_BOOTSTRAP"]
    assert bootstrap.startswith(f"{kafka['metadata']['name']}-kafka-bootstrap:")  # Strimzi's service name


def lgsp_variables() -> dict[str, str]:
    """Every LGSP_ variable (and lgsp_ secret file) set anywhere in deploy/, with where."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "deploy").rglob("*")):
        if path.is_file():
            for name in re.findall(
                r"\b(LGSP_[A-Z0-9_]+|lgsp_[a-z0-9_]+)\b", path.read_text(errors="replace")
            ):
                found.setdefault(name.upper(), str(path.relative_to(ROOT)))
    return found


def test_every_lgsp_variable_in_deploy_is_a_real_setting() -> None:
    unknown = {n: where for n, where in lgsp_variables().items() if n not in SETTINGS | set(NOT_SETTINGS)}
    assert not unknown, unknown
    assert "LGSP_KAFKA_REPLICATION_FACTOR" in lgsp_variables()


def test_the_compose_prometheus_configuration_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes from Debian's prometheus package (scripts/ensure-tools.sh)"
    shutil.copy(COMPOSE / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(ROOT / "monitoring" / "rules", tmp_path / "rules")  # mounted there in the container
    done = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
