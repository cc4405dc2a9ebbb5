"""deploy/, validated without a Docker engine or a Kubernetes cluster (neither exists on these machines).

- Compose: the Compose Specification's JSON Schema (the copy check-jsonschema ships), interpolation,
  the files it mounts, the topology, and the configurations it mounts checked by their own tools
  (promtool, amtool, nginx -t).
- Kubernetes: rendered by kustomize, validated by kubeconform -strict against Kubernetes' schemas
  (kubernetes-validate) and against the Strimzi and Prometheus Operator CRDs generated from their
  published API types (tests/deploy/install-validators.sh), plus the wiring between the objects.
- Both: every `lgsp` command and option used exists, every LGSP_ variable is a real setting, and the
  settings each process gets are accepted by lgsp.settings.Settings.

Every tool comes from scripts/ensure-tools.sh; a missing one fails a test, never skips it.
"""

import base64
import copy
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lgsp.settings import Settings
from tests.deploy import validators

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
SETTINGS = {f"LGSP_{name}".upper() for name in Settings.model_fields}
HUB_IMAGE_BUILD = "deploy/Dockerfile"


# --- Compose ---------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    return loaded


def lgsp_services(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the `lgsp` image (built from deploy/Dockerfile)."""
    return {
        name: service
        for name, service in data["services"].items()
        if service.get("build", {}).get("dockerfile") == HUB_IMAGE_BUILD
    }


def compose_schema_errors(document: dict[str, Any]) -> list[str]:
    spec = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    validator = jsonschema.Draft7Validator(json.loads(spec.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert compose_schema_errors(compose()) == []


def test_the_compose_validation_rejects_a_broken_file() -> None:
    broken = compose()
    broken["services"]["hub-1"]["restart"] = ["always"]  # a list where a string belongs
    broken["services"]["proxy"]["portz"] = ["8000:8000"]  # no such key
    broken["services"]["hub-2"]["depends_on"]["migrate"]["condition"] = "service_finished"
    errors = compose_schema_errors(broken)
    assert len(errors) >= 3, errors


INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|(?P<bad>.?))")


def interpolations(text: str) -> Iterator[tuple[str, bool]]:
    """(variable, has a default) for each Compose interpolation in text; fails on a malformed one."""
    for match in INTERPOLATION.finditer(text):
        if match["bad"] is not None:
            raise AssertionError(f"a lone $ ({match.group()!r}): write $$ for a literal dollar")
        if match["bare"]:
            yield match["bare"], False
        elif match["braced"] is not None:
            name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", match["braced"])
            assert name, f"malformed interpolation ${{{match['braced']}}}"
            yield name.group(), match["braced"][name.end() :].startswith((":-", "-"))


def env_example() -> dict[str, str]:
    lines = (COMPOSE / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_compose_interpolation_is_well_formed_and_documented() -> None:
    used = dict(interpolations((COMPOSE / "compose.yaml").read_text()))
    example = env_example()
    undocumented = [name for name, has_default in used.items() if not has_default and name not in example]
    assert not undocumented, f"variables without a default, missing from .env.example: {undocumented}"
    assert set(example) <= set(used), f".env.example sets unused variables: {set(example) - set(used)}"


def test_every_file_the_compose_file_mounts_exists(tmp_path: Path) -> None:
    data = compose()
    missing = []
    for name, service in data["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            # A bind mount (the others are named volumes).
            if source.startswith(".") and not (COMPOSE / source).exists():
                missing.append(f"{name}: {source}")
        for env_file in service.get("env_file", []):
            if not (COMPOSE / env_file).exists():
                missing.append(f"{name}: {env_file}")
    assert not missing, missing
    # The secrets are made by make-secrets.sh, every one of them, into the folder git ignores.
    secrets = make_secrets(tmp_path)
    for name, secret in data["secrets"].items():
        assert secret["file"] == f"./secrets/{name}"
        assert (secrets / name).is_file(), f"make-secrets.sh does not make {name}"
    for ignored in (
        "deploy/compose/secrets/lgsp_admin_token",
        "deploy/compose/.env",
        "deploy/k8s/secrets.env",
    ):
        done = subprocess.run(["git", "check-ignore", "-q", ignored], cwd=ROOT)
        assert done.returncode == 0, f"{ignored} must be ignored by git"


def make_secrets(tmp_path: Path) -> Path:
    """Run make-secrets.sh on a copy of deploy/compose; returns the secrets folder it made."""
    copy_ = tmp_path / "compose"
    shutil.copytree(COMPOSE, copy_, ignore=shutil.ignore_patterns("secrets", ".env"))
    done = subprocess.run(["sh", copy_ / "make-secrets.sh"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    again = subprocess.run(["sh", copy_ / "make-secrets.sh"], capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == "", "a second run must keep the secrets"
    return copy_ / "secrets"


def kafka_uuid_is_valid(value: str) -> bool:
    """Kafka's Uuid.fromString: 22 characters of unpadded base64url for 16 bytes (not zero)."""
    try:
        raw = base64.urlsafe_b64decode(value + "==")
    except ValueError:
        return False
    return len(value) == 22 and len(raw) == 16 and any(raw)


def default_of(value: str) -> str:
    """A string with its ${NAME:-default} interpolations replaced by their defaults."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)


def test_the_compose_kafka_cluster_is_three_combined_nodes_with_replication_3() -> None:
    services = compose()["services"]
    kafka = {name: s for name, s in services.items() if s["image"].startswith("apache/kafka:")}
    assert len(kafka) == 3
    voters = {}
    for name, service in kafka.items():
        env = service["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3" and env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_LOG_DIRS"] in [v.split(":")[1] for v in service["volumes"]], "data on the volume"
        assert kafka_uuid_is_valid(default_of(env["CLUSTER_ID"])), env["CLUSTER_ID"]
        voters[env["KAFKA_NODE_ID"]] = f"{name}:9093"
        assert service["healthcheck"]["test"]
    quorum = next(iter(kafka.values()))["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert quorum == ",".join(f"{node}@{address}" for node, address in sorted(voters.items()))
    assert kafka_uuid_is_valid(env_example()["KAFKA_CLUSTER_ID"])
    assert not kafka_uuid_is_valid("lgsp-province-cluster-01"), "the check itself must be able to fail"
    bootstrap = settings_lines(COMPOSE / "lgsp.env")["LGSP_KAFKA_BOOTSTRAP"]
    assert sorted(bootstrap.split(",")) == sorted(f"{name}:9092" for name in kafka)


def test_the_compose_hubs_are_behind_nginx_and_scraped_by_prometheus() -> None:
    data = compose()
    services = data["services"]
    hubs = sorted(name for name, s in lgsp_services(data).items() if s.get("command") == ["hub"])
    assert len(hubs) >= 2, "at least two hub processes (one consumer group)"
    for hub in hubs:
        assert services[hub]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "healthcheck" not in services[hub], "the hubs keep the image's /readyz health check"
    upstream = re.findall(r"^\s*server\s+([\w.-]+):8000\b", (COMPOSE / "nginx.conf").read_text(), re.M)
    assert sorted(upstream) == hubs
    prometheus = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    [job] = [j for j in prometheus["scrape_configs"] if j["job_name"] == "lgsp-hub"]
    assert sorted(t for c in job["static_configs"] for t in c["targets"]) == [f"{h}:8000" for h in hubs]
    assert services["migrate"]["command"] == ["db-upgrade"]


def test_only_the_hubs_keep_the_images_http_health_check() -> None:
    """The image's HEALTHCHECK probes /readyz, served by `lgsp hub` alone: any other command of the image
    must turn it off, or it would stay unhealthy forever."""
    data = compose()
    for name, service in lgsp_services(data).items():
        if service.get("command") != ["hub"]:
            assert service.get("healthcheck") == {"disable": True}, name


def test_compose_dependencies_exist_and_can_become_healthy() -> None:
    data = compose()
    services = data["services"]
    hubs = {n for n, s in lgsp_services(data).items() if s.get("command") == ["hub"]}
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for target, condition in depends.items() if isinstance(depends, dict) else []:
            assert target in services, f"{name} depends on unknown {target}"
            if condition["condition"] == "service_healthy":
                has_check = "test" in services[target].get("healthcheck", {}) or target in hubs
                assert has_check, f"{name} waits for {target} to be healthy, which has no health check"


# --- The image -------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_is_slim_multi_stage_non_root_and_health_checked() -> None:
    instructions = dockerfile()
    froms = [args for op, args in instructions if op == "FROM"]
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    assert len(froms) >= 2, "multi-stage"
    assert all(f.split()[0] == "${PYTHON_IMAGE}" for f in froms)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args["PYTHON_IMAGE"])
    runs = " ".join(a for op, a in instructions if op == "RUN")
    assert "pip install -c constraints.txt ." in runs
    [user] = [a for op, a in instructions if op == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root user (Kubernetes checks runAsNonRoot by uid)"
    [healthcheck] = [a for op, a in instructions if op == "HEALTHCHECK"]
    assert "/readyz" in healthcheck and "urllib" in healthcheck and "LGSP_PORT" in healthcheck
    assert json.loads(next(a for op, a in instructions if op == "ENTRYPOINT")) == ["lgsp"]
    assert json.loads(next(a for op, a in instructions if op == "CMD")) == ["hub"]
    env = " ".join(a for op, a in instructions if op == "ENV")
    assert "LGSP_HOST=0.0.0.0" in env and "LGSP_PORT=8000" in env, "lgsp hub takes its address from these"


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves `path` (or a parent of it) out: the last matching pattern wins."""
    from fnmatch import fnmatch

    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch(c, pattern) or fnmatch(c, pattern.removeprefix("**/")) for c in candidates):
            ignored = not negate
    return ignored


def test_the_image_copies_every_package_the_project_installs() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copies = [a.split() for op, a in dockerfile() if op == "COPY" and not a.startswith("--from")]
    sources = {source for args in copies for source in args[:-1]}
    assert packages <= sources, f"deploy/Dockerfile does not COPY {packages - sources}"
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not dockerignored(source, patterns), f".dockerignore leaves out {source}"
    assert dockerignored("tests", patterns) and dockerignored("lgsp/__pycache__", patterns)


# --- The lgsp commands deploy/ runs ----------------------------------------------------------------


def lgsp_invocations() -> dict[str, list[str]]:
    """Every `lgsp` argument list that deploy/ runs, by where it is."""
    found: dict[str, list[str]] = {}
    for name, service in lgsp_services(compose()).items():
        found[f"compose {name}"] = [default_of(a) for a in service.get("command", ["hub"])]
    for doc in rendered_k8s():
        for container in containers(doc):
            if container.get("image", "").startswith("lgsp-axis"):
                found[f"k8s {doc['kind']}/{doc['metadata']['name']}"] = container["args"]
    return found


def test_every_lgsp_command_deploy_runs_exists_with_its_options() -> None:
    """`lgsp ARGS --help` exits 0 only when the command exists and knows every option given (click
    refuses an unknown option before --help answers); run with the installed console script."""
    lgsp = Path(sys.executable).parent / "lgsp"
    invocations = lgsp_invocations()
    assert {args[0] for args in invocations.values()} >= {"hub", "db-upgrade", "ngsp", "fleet", "connector"}
    for where, args in invocations.items():
        done = subprocess.run([lgsp, *args, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, f"{where}: lgsp {shlex.join(args)}: {done.stderr[-500:]}"
    wrong = subprocess.run([lgsp, "fleet", "--systemz", "6", "--help"], capture_output=True, text=True)
    assert wrong.returncode != 0, "the check itself must be able to fail"


# --- Monitoring configurations ---------------------------------------------------------------------


def test_the_compose_prometheus_configuration_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes from Debian's prometheus package (scripts/ensure-tools.sh)"
    shutil.copy(COMPOSE / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(ROOT / "monitoring" / "rules", tmp_path / "rules")  # mounted there in the container
    done = subprocess.run(
        [promtool, "check", "config", tmp_path / "prometheus.yml"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "../../monitoring/rules:/etc/prometheus/rules:ro" in mounts


def test_the_alertmanager_configuration_passes_amtool(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool comes from Debian's prometheus-alertmanager package (scripts/ensure-tools.sh)"
    done = subprocess.run(
        [amtool, "check-config", COMPOSE / "alertmanager.yml"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (COMPOSE / "alertmanager.yml").read_text().replace("receiver: operators", "receiver: nobody")
    )
    assert subprocess.run([amtool, "check-config", broken], capture_output=True).returncode != 0


def nginx_check(conf: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """nginx -t on the proxy's configuration inside a minimal main file (as the image includes it), the
    hub host names pointed at loopback: they only resolve inside the Compose network."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx comes from Debian's nginx-light package (scripts/ensure-tools.sh)"
    (tmp_path / "default.conf").write_text(re.sub(r"\bhub-\d+:", "127.0.0.1:", conf))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n  proxy_temp_path {tmp_path};\n"
        f"  include {tmp_path}/default.conf;\n}}\n"
    )
    return subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )


def test_the_nginx_configuration_passes_nginx_t(tmp_path: Path) -> None:
    conf = (COMPOSE / "nginx.conf").read_text()
    done = nginx_check(conf, tmp_path)
    assert done.returncode == 0, done.stderr
    broken = nginx_check(conf.replace("proxy_read_timeout", "proxy_read_timeoutt"), tmp_path)
    assert broken.returncode != 0


def test_grafana_is_provisioned_with_the_shipped_dashboard_and_prometheus() -> None:
    grafana = compose()["services"]["grafana"]
    by_target = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert (COMPOSE / by_target["/etc/grafana/provisioning"]).resolve() == (COMPOSE / "grafana/provisioning")
    dashboards_dir = (COMPOSE / by_target["/etc/grafana/dashboards/lgsp"]).resolve()
    assert dashboards_dir == ROOT / "monitoring" / "grafana"
    [provider] = yaml.safe_load((COMPOSE / "grafana/provisioning/dashboards/lgsp.yml").read_text())[
        "providers"
    ]
    assert provider["options"]["path"] == "/etc/grafana/dashboards/lgsp"
    dashboards = [json.loads(p.read_text()) for p in dashboards_dir.glob("*.json")]
    assert dashboards and all(d.get("panels") for d in dashboards)
    [source] = yaml.safe_load((COMPOSE / "grafana/provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["isDefault"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose()["services"]
    for dashboard in dashboards:  # each resolves its Prometheus through a data source variable
        variables = {v["name"]: v for v in dashboard["templating"]["list"] if v["type"] == "datasource"}
        assert variables and all(v["query"] == "prometheus" for v in variables.values())


# --- Kubernetes ------------------------------------------------------------------------------------


def k8s_secrets_env() -> str:
    """A secrets.env as an operator fills it in from secrets.env.example."""
    values = {
        "LGSP_ADMIN_TOKEN": "k8s-test-admin-token-0123456789",
        "LGSP_SECRET_KEY": "k8s-test-secret-key-0123456789abcdef",
    }
    lines = []
    for line in (K8S / "secrets.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            line = f"{name}={values.get(name, value)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


_RENDERED: list[dict[str, Any]] = []


def rendered_k8s() -> list[dict[str, Any]]:
    """deploy/k8s rendered by kustomize (a copy, with secrets.env made from the example); cached."""
    if not _RENDERED:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            folder = validators.copy_tree(K8S, Path(tmp) / "k8s")
            (folder / "secrets.env").write_text(k8s_secrets_env())
            _RENDERED.extend(validators.kustomize_build(folder))
    return copy.deepcopy(_RENDERED)


def by_kind(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    found: list[dict[str, Any]] = spec.get("containers", []) + spec.get("initContainers", [])
    return found


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return validators.schema_folder(tmp_path_factory.mktemp("schemas"))


@pytest.mark.parametrize("version", validators.kubernetes_versions())
def test_every_kubernetes_object_is_valid_for_kubeconform(
    schemas: Path, version: str, tmp_path: Path
) -> None:
    documents = rendered_k8s()
    report = validators.kubeconform(documents, schemas, version, tmp_path)
    problems = [f"{r['kind']}/{r['name']}: {r['msg']}" for r in report["resources"]]
    assert report["returncode"] == 0 and not problems, problems
    summary = report["summary"]
    assert summary["valid"] == len(documents) and summary["skipped"] == 0, summary
    kinds = {d["kind"] for d in documents}
    assert {"Kafka", "KafkaNodePool", "KafkaUser", "ServiceMonitor", "PrometheusRule"} <= kinds


def test_kubeconform_rejects_broken_objects(schemas: Path, tmp_path: Path) -> None:
    """One mistake per kind, core and custom: each must be reported, so the validation can fail."""
    documents = rendered_k8s()
    breakers = {
        "Deployment": lambda d: d["spec"].__setitem__("replicas", "two"),
        "Service": lambda d: d["spec"].__setitem__("portz", []),
        "Kafka": lambda d: d["spec"]["kafka"].__setitem__("replicas", 3),  # v1beta2's, gone in v1
        "KafkaNodePool": lambda d: d["spec"].__setitem__("roles", ["broker", "zookeeper"]),
        "ServiceMonitor": lambda d: d["spec"]["endpoints"][0].__setitem__("intervall", "15s"),
        "PrometheusRule": lambda d: d["spec"]["groups"][0].__setitem__("rulez", []),
    }
    broken = []
    for kind, breaker in breakers.items():
        doc = copy.deepcopy(next(d for d in documents if d["kind"] == kind))
        breaker(doc)
        broken.append(doc)
    report = validators.kubeconform(broken, schemas, validators.kubernetes_versions()[0], tmp_path)
    invalid = {r["kind"] for r in report["resources"] if r["status"] == "statusInvalid"}
    assert invalid == set(breakers), report["resources"]


def test_the_crd_schemas_refuse_unknown_fields_but_keep_open_maps() -> None:
    schema = validators.strict_schema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "port": {"x-kubernetes-int-or-string": True},
                        "name": {"type": "string", "nullable": True},
                    },
                }
            },
        }
    )
    validator = jsonschema.Draft4Validator(schema)
    assert validator.is_valid({"spec": {"config": {"any.thing": 1}, "port": "http", "name": None}})
    assert validator.is_valid({"spec": {"port": 8000}})
    assert not validator.is_valid({"spec": {"unknown": 1}})


def test_the_hub_deployment_is_replicated_probed_bounded_and_unprivileged() -> None:
    objects = by_kind(rendered_k8s())
    hub = objects[("Deployment", "lgsp-hub")]["spec"]
    pod = hub["template"]["spec"]
    [container] = pod["containers"]
    assert hub["replicas"] >= 2
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    refs = [next(iter(source.values()))["name"] for source in container["envFrom"]]
    assert {kind for source in container["envFrom"] for kind in source} == {"configMapRef", "secretRef"}
    for ref in refs:  # the generated names (with their hash) were substituted by kustomize
        assert ("ConfigMap", ref) in objects or ("Secret", ref) in objects, ref
    labels = hub["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "Service"):
        selector = objects[(kind, "lgsp-hub")]["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items(), f"the {kind} does not select the hub pods"
    service = objects[("Service", "lgsp-hub")]
    monitor = objects[("ServiceMonitor", "lgsp-hub")]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    assert objects[("Job", "lgsp-migrate")]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "db-upgrade"
    ]


def test_the_strimzi_cluster_is_kraft_with_three_combined_nodes_and_the_hub_finds_it() -> None:
    objects = rendered_k8s()
    [kafka] = [o for o in objects if o["kind"] == "Kafka"]
    pools = [o for o in objects if o["kind"] == "KafkaNodePool"]
    name = kafka["metadata"]["name"]
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == name for p in pools)
    assert (
        sum(p["spec"]["replicas"] for p in pools if set(p["spec"]["roles"]) == {"controller", "broker"}) == 3
    )
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3 and config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3 and config["transaction.state.log.min.isr"] == 2
    [settings] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "lgsp-config"]
    data = settings["data"]
    [listener] = [
        item
        for item in kafka["spec"]["kafka"]["listeners"]
        if item["authentication"]["type"] == "scram-sha-512"
    ]
    assert data["LGSP_KAFKA_BOOTSTRAP"] == f"{name}-kafka-bootstrap:{listener['port']}"  # Strimzi's Service
    assert listener["tls"] and data["LGSP_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["LGSP_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    users = {o["metadata"]["name"] for o in objects if o["kind"] == "KafkaUser"}
    for doc in objects:
        for container in containers(doc):
            env = {e["name"]: e for e in container.get("env", [])}
            if "LGSP_KAFKA_SASL_PLAIN_USERNAME" in env:
                user = env["LGSP_KAFKA_SASL_PLAIN_USERNAME"]["value"]
                assert user in users, f"{doc['metadata']['name']}: no KafkaUser {user}"
                password = env["LGSP_KAFKA_SASL_PLAIN_PASSWORD"]["valueFrom"]["secretKeyRef"]
                assert password == {"name": user, "key": "password"}  # the Secret Strimzi makes
                volumes = {v["name"]: v for v in doc["spec"]["template"]["spec"]["volumes"]}
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                ca_dir, ca_file = data["LGSP_KAFKA_SSL_CAFILE"].rsplit("/", 1)
                ca = volumes[mounts[ca_dir]]["secret"]
                assert ca["secretName"] == f"{name}-cluster-ca-cert" and ca_file in [
                    i["path"] for i in ca["items"]
                ]
    version = kafka["spec"]["kafka"]["version"]
    assert re.fullmatch(r"4\.[23]\.\d+", version), f"Strimzi 1.2 runs Kafka 4.2.x and 4.3.x, not {version}"


def test_the_prometheus_rule_is_the_shipped_rules() -> None:
    sys.path.insert(0, str(K8S))
    try:
        import prometheusrule
    finally:
        sys.path.remove(str(K8S))
    committed = (K8S / "prometheusrule.yaml").read_text()
    assert committed == prometheusrule.render(), "run python deploy/k8s/prometheusrule.py"
    [rule] = [o for o in rendered_k8s() if o["kind"] == "PrometheusRule"]
    shipped = [
        g
        for p in sorted((ROOT / "monitoring/rules").glob("*.yml"))
        for g in yaml.safe_load(p.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == shipped


# --- Settings --------------------------------------------------------------------------------------


def settings_lines(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


#: LGSP_ variables deploy/ sets that are not fields of Settings, and what reads each (checked below).
NOT_FIELDS = {
    "LGSP_SECRETS_DIR": "Settings.model_config: the folder of secret files",
    "LGSP_HUB_URL": "lgsp fleet --hub, lgsp connector --hub-url",
    "LGSP_CONNECTOR_API_KEY": "lgsp connector --api-key",
    "LGSP_CONNECTOR_TRUST": "lgsp connector --trust",
}


def lgsp_variables() -> dict[str, str]:
    """Every LGSP_ variable deploy/ sets or names, with where: each LGSP_ word of every file (compose
    environments and env files, .env.example, the Dockerfile's ENV, the ConfigMap, secrets.env.example,
    the containers' env, the docs), the Compose secret files named after settings, and the keys of
    the rendered Kubernetes ConfigMaps and Secrets. Metric names (lgsp_...) are not variables."""
    found: dict[str, str] = {}
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.suffix not in {".py", ".pyc"}:
            for name in re.findall(r"\b(LGSP_[A-Z0-9_]+)\b", path.read_text(errors="replace")):
                found.setdefault(name, str(path.relative_to(ROOT)))
    for secret in compose()["secrets"]:
        if secret.lower().startswith("lgsp_"):
            found.setdefault(secret.upper(), "deploy/compose/compose.yaml secrets")
    for doc in rendered_k8s():
        if doc["kind"] in {"ConfigMap", "Secret"}:
            for key in doc.get("data", {}):
                found.setdefault(key.upper(), f"k8s {doc['kind']}/{doc['metadata']['name']}")
        for container in containers(doc):
            for variable in container.get("env", []):
                found.setdefault(variable["name"].upper(), f"k8s {doc['kind']}/{doc['metadata']['name']}")
    return found


def test_every_lgsp_variable_in_deploy_is_a_real_setting() -> None:
    found = lgsp_variables()
    unknown = {name: where for name, where in found.items() if name not in SETTINGS | set(NOT_FIELDS)}
    assert not unknown, unknown
    assert {"LGSP_KAFKA_REPLICATION_FACTOR", "LGSP_ADMIN_TOKEN", "LGSP_DATABASE_URL"} <= set(found)
    # The names that are not fields are read where NOT_FIELDS says.
    assert '"LGSP_SECRETS_DIR"' in (ROOT / "lgsp" / "settings.py").read_text()
    lgsp = Path(sys.executable).parent / "lgsp"
    for name, command in (
        ("LGSP_HUB_URL", "fleet"),
        ("LGSP_HUB_URL", "connector"),
        ("LGSP_CONNECTOR_API_KEY", "connector"),
        ("LGSP_CONNECTOR_TRUST", "connector"),
    ):
        help_text = subprocess.run(
            [lgsp, command, "--help"], capture_output=True, text=True, env={"COLUMNS": "300"}
        )
        assert name in help_text.stdout, f"lgsp {command} no longer reads {name}"


def accepted(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built from exactly this environment (no .env file, no other LGSP_ variable)."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("LGSP_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_each_compose_process_gets_settings_lgsp_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = compose()
    secrets = make_secrets(tmp_path)
    for name, service in lgsp_services(data).items():
        environment = {}
        for env_file in service["env_file"]:
            environment |= settings_lines(COMPOSE / env_file)
        environment |= {k: default_of(v) for k, v in service.get("environment", {}).items()}
        environment.pop("LGSP_SECRETS_DIR")  # the secret files, read as the settings they are named after
        for secret in service.get("secrets", []):
            if secret.startswith("lgsp_"):
                environment[secret.upper()] = (secrets / secret).read_text()
        settings = accepted(environment, monkeypatch)
        assert settings.kafka_replication_factor == 3 and settings.kafka_min_insync_replicas == 2, name
        assert settings.database_url.startswith("postgresql+asyncpg://lgsp:"), name
        assert settings.admin_token is not None and settings.kafka_idempotence, name


def test_each_kubernetes_process_gets_settings_lgsp_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered_k8s()
    data = {(o["kind"], o["metadata"]["name"]): o.get("data") or o.get("stringData") or {} for o in objects}
    checked = 0
    for doc in objects:
        for container in containers(doc):
            environment: dict[str, str] = {}
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    environment |= data[("ConfigMap", source["configMapRef"]["name"])]
                else:
                    encoded = data[("Secret", source["secretRef"]["name"])]
                    environment |= {k: base64.b64decode(v).decode() for k, v in encoded.items()}
            for variable in container.get("env", []):
                environment[variable["name"]] = variable.get("value", "a-secret-strimzi-makes")
            # Files mounted from Secrets (the Kafka CA) exist in the pod: here, in tmp_path.
            for mount in container.get("volumeMounts", []):
                for name, value in environment.items():
                    if value.startswith(mount["mountPath"] + "/"):
                        local = tmp_path / value.lstrip("/")
                        local.parent.mkdir(parents=True, exist_ok=True)
                        local.write_text("-----BEGIN CERTIFICATE-----\n")
                        environment[name] = str(local)
            where = f"{doc['kind']}/{doc['metadata']['name']}"
            try:
                accepted(environment, monkeypatch)
            except ValueError as exc:
                raise AssertionError(f"{where}: {exc}") from None
            checked += 1
    assert checked >= 3
