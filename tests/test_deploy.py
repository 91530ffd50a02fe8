"""Deployment artefacts: the Helm chart's values schema (the guide's production-values.yaml
passes as written, broken values fail), the chart's templates only use values that exist,
`helm lint` and `helm template` accept the chart and render exactly the plain-YAML
(kustomize) base, which validates against Kubernetes' schemas, and the container files
keep their promises. kubectl and helm come from PATH or from ARKA_TEST_K8S_DIR/bin
(default ~/.cache/arka-test-k8s/bin, where .ci/run installs them). No Docker daemon is
available here: docs/deployment.md says exactly what is and is not verified."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from arka.settings.file import parse_config
from tests.service_fixtures import _require_or_skip

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "arka-engine"
#: The deployment guide itself, where it is beside the checkout (only to check the fixtures).
SEED = ROOT.parent / "shared" / "seeds" / "000_c8967e378da85986.txt"
#: Verbatim copies of the guide's blocks that ARKA ships unchanged (tests/fixtures/guide/).
GUIDE = ROOT / "tests" / "fixtures" / "guide"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
K8S_VERSION = "1.32.0"


GUIDE_VALUES = CHART / "examples" / "production-values.yaml"


def seed_values() -> dict[str, Any]:
    """The guide's production-values.yaml, shipped unchanged beside the chart."""
    return yaml.safe_load(GUIDE_VALUES.read_text())  # type: ignore[no-any-return]


def test_shipped_values_are_the_guides() -> None:
    assert GUIDE_VALUES.read_text() == (GUIDE / "production-values.yaml").read_text()


def test_guide_fixtures_are_the_guides_blocks() -> None:
    """The copies in tests/fixtures/guide are the guide's blocks, byte for byte."""
    if not SEED.exists():
        pytest.skip("the deployment guide is not beside this checkout (the copies are in "
                    "tests/fixtures/guide)")
    text = SEED.read_text()

    def block(start: int) -> str:
        return text[start:text.index("```", start)]

    alerts = text.index("kind: PrometheusRule", text.index("### Alerting Rules"))
    assert (GUIDE / "production-values.yaml").read_text() == \
        block(text.index("# production-values.yaml"))
    assert (GUIDE / "config-production.yaml").read_text() == \
        block(text.index("# config/production.yaml"))
    assert (GUIDE / "alerting-rules.yaml").read_text() == \
        block(text.rindex("apiVersion", 0, alerts))


def test_guide_values_and_defaults_pass_the_schema() -> None:
    jsonschema.validate(seed_values(), SCHEMA)
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), SCHEMA)


def _broken(path: str, value: Any) -> dict[str, Any]:
    values = copy.deepcopy(seed_values())
    *parents, last = path.split(".")
    node = values
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return values


@pytest.mark.parametrize("path, value", [
    ("core.replica", 3),                              # typo
    ("core.replicas", "three"),
    ("core.autoscaling.targetCPUUtilization", 170),
    ("core.resources.requests.cpu", "two"),
    ("core.env", [{"value": "no name"}]),
    ("rtvm.config.maxHeapSize", "8 gigs"),
    ("rtvm.config.maxExecutionTime", "soon"),
    ("rtvm.config.workerThreads", 0),
    ("global.imagePullPolicy", "Sometimes"),
    ("ingress.hosts", [{"host": "x", "paths": [{"path": "/", "pathType": "Any"}]}]),
    ("security.networkPolicy.enable", True),
    ("monitoring.prometheus.serviceMonitor.interval", 15),
    ("telemetry", {}),
    ("pluginHost.enable", True),
    ("pluginHost.replicas", "three"),
    ("pluginHost.workers", 0),
    ("pluginHost.pluginWorkers", 1000),
    ("pluginHost.resources.limits.memory", "8 gigs"),
    ("pluginHost.config", {"Sanctions": {}}),
    ("pluginHost.config", {"sanctions": ["not", "a", "mapping"]}),
    ("pluginHost.networkPolicy.ingress", []),
])
def test_broken_values_fail_the_schema(path: str, value: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_broken(path, value), SCHEMA)


def test_templates_only_use_values_that_exist() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    used = set()
    for template in (CHART / "templates").glob("*"):
        text = template.read_text()
        assert text.count("{{") == text.count("}}"), template.name
        used |= set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text))
    assert used
    for path in sorted(used):
        node: Any = defaults
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f".Values.{path} is not in values.yaml"
            node = node[part]


def test_chart_alerts_are_the_shipped_alerts() -> None:
    assert (CHART / "files" / "alerts.yaml").read_text() == \
        (ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text()


def _tool(name: str) -> str:
    """kubectl or helm: the one .ci/run installed, else the one on PATH."""
    cache = Path(os.environ.get("ARKA_TEST_K8S_DIR",
                                Path.home() / ".cache" / "arka-test-k8s")) / "bin" / name
    found = str(cache) if os.access(cache, os.X_OK) else shutil.which(name)
    if found is None:
        _require_or_skip(f"{name} is not installed (.ci/run installs it into {cache.parent})")
    assert found is not None
    return found


def _rendered() -> list[dict[str, Any]]:
    out = subprocess.run([_tool("kubectl"), "kustomize",
                          str(ROOT / "deploy" / "kustomize" / "base")],
                         capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A manifest without what only says who rendered it (helm or kustomize)."""
    doc = copy.deepcopy(doc)
    for meta in (doc["metadata"], doc.get("spec", {}).get("template", {}).get("metadata", {})):
        labels = meta.get("labels", {})
        labels.pop("app.kubernetes.io/managed-by", None)
        labels.pop("helm.sh/chart", None)
        meta.get("annotations", {}).pop("checksum/config", None)
        if meta.get("annotations") == {}:
            del meta["annotations"]
    doc["metadata"].pop("namespace", None)
    if doc["kind"] == "ConfigMap":
        doc["data"] = {k: yaml.safe_load(v) for k, v in doc["data"].items()}
    return doc


def test_helm_renders_the_kustomize_base(tmp_path: Path) -> None:
    """`helm lint` and `helm template` with the guide's values, on a copy of the chart
    without its bitnami dependencies (they cannot be fetched offline), give exactly the
    manifests of deploy/kustomize/base."""
    helm = _tool("helm")
    chart = tmp_path / "arka-engine"
    shutil.copytree(CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert {d["name"] for d in meta.pop("dependencies")} == {"postgresql", "redis"}
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    lint = subprocess.run([helm, "lint", "--strict", str(chart), "-f", str(GUIDE_VALUES)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    out = subprocess.run([helm, "template", "arka", str(chart), "--namespace", "arka-system",
                          "-f", str(GUIDE_VALUES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    helm_docs = {(d["kind"], d["metadata"]["name"]): _comparable(d)
                 for d in yaml.safe_load_all(out.stdout) if d}
    base = {(d["kind"], d["metadata"]["name"]): _comparable(d) for d in _rendered()}
    assert sorted(helm_docs) == sorted(base)
    for key, doc in base.items():
        assert helm_docs[key] == doc, f"{key}: the chart and deploy/kustomize/base differ"


def test_rendered_manifests_validate_against_kubernetes_schemas() -> None:
    docs = _rendered()
    kinds = {d["kind"] for d in docs}
    assert kinds >= {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                     "Ingress", "NetworkPolicy", "ServiceAccount", "ConfigMap",
                     "ServiceMonitor", "PrometheusRule"}
    for doc in docs:
        assert doc["metadata"]["namespace"] == "arka-system"
        if doc["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # CRDs: checked below
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    core = by[("Deployment", "arka-core")]["spec"]["template"]["spec"]
    container = core["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert core["securityContext"]["runAsNonRoot"] is True
    assert {v["mountPath"] for v in container["volumeMounts"]} == {"/etc/arka/config", "/tmp"}
    assert [container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe",
                                                      "startupProbe")] == [
        "/health/live", "/health/ready", "/health/startup"]
    assert {"secretRef": {"name": "arka-api-secrets"}} in container["envFrom"]
    # the ServiceMonitor finds the Service's metrics port; the PDB and policy find the pods
    monitor = by[("ServiceMonitor", "arka-core")]["spec"]
    service = by[("Service", "arka-core")]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    pod_labels = by[("Deployment", "arka-core")]["spec"]["template"]["metadata"]["labels"]
    for kind, name in (("PodDisruptionBudget", "arka-core-pdb"),):
        assert by[(kind, name)]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    policy = by[("NetworkPolicy", "arka-core-network-policy")]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert egress_ports >= {5432, 6379, 8081, 53}
    # the PrometheusRule carries the guide's alerts, and Prometheus accepts them
    rule = by[("PrometheusRule", "arka-alerts")]["spec"]
    assert rule == yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text())


def test_rendered_core_configuration_loads() -> None:
    config_map = next(d for d in _rendered() if d["kind"] == "ConfigMap")
    env = {"DATABASE_HOST": "db", "DATABASE_USER": "pact", "DATABASE_PASSWORD": "pw",
           "REDIS_HOST": "redis"}
    config = parse_config(yaml.safe_load(config_map["data"]["production.yaml"]), env)
    assert config.rtvm.host == "arka-rtvm" and config.observability.metrics.port == 9090
    assert config.plugins.host == "arka-plugin-host:8082"
    assert config.database.sqlalchemy_url() is not None


def test_promtool_accepts_the_alerts() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        _require_or_skip("promtool is not installed (apt-get install prometheus)")
    assert promtool is not None
    out = subprocess.run([promtool, "check", "rules",
                          str(ROOT / "deploy" / "prometheus" / "alerts.yaml")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "7 rules found" in out.stdout, out.stdout + out.stderr


def test_container_files() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and all(not u.startswith(("0", "root")) for u in users)
    assert re.search(r"^FROM .* AS core$", dockerfile, re.M)
    assert re.search(r"^FROM .* AS rtvm$", dockerfile, re.M)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"core", "rtvm", "postgres", "redis", "s3", "migrate"} <= set(services)
    anchor = compose["x-arka"]
    assert anchor["read_only"] is True and "/tmp" in anchor["tmpfs"]
    assert services["core"]["depends_on"]["migrate"]["condition"] == \
        "service_completed_successfully"
    env = {"DATABASE_PASSWORD": "pw"}
    config = parse_config(yaml.safe_load((ROOT / "deploy" / "compose" / "arka.yaml")
                                         .read_text()), env)
    assert config.rtvm.host == "rtvm" and config.redis.client_url() == "redis://redis:6379/0"
    assert config.plugins.host == "plugin-host:8082"
    plugin_host = services["plugin-host"]
    assert plugin_host["command"][:2] == ["plugin-host", "serve"] and "8082" in plugin_host[
        "command"] and "/etc/arka/compose/arka.yaml" in plugin_host["command"]
    assert services["core"]["depends_on"]["plugin-host"]["condition"] == "service_healthy"


def test_plugin_host_objects() -> None:
    """The plugin host: sized as deployed (3+ replicas, 4 cores, 8 GiB, 20 GiB of disk),
    probed over gRPC, reachable only from ARKA Core and the RTVM on 8082, reaching only
    DNS, and ARKA Core pointed at it."""
    by = {(d["kind"], d["metadata"]["name"]): d for d in _rendered()}
    deployment = by[("Deployment", "arka-plugin-host")]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][:2] == ["plugin-host", "serve"] and "8082" in container["args"]
    assert container["ports"] == [{"name": "grpc", "containerPort": 8082}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"] == {"port": 8082}
    for kind in ("requests", "limits"):
        assert container["resources"][kind] == {"cpu": "4", "memory": "8Gi",
                                                "ephemeral-storage": "20Gi"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    hpa = by[("HorizontalPodAutoscaler", "arka-plugin-host")]["spec"]
    assert hpa["minReplicas"] >= 3 and hpa["scaleTargetRef"]["name"] == "arka-plugin-host"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = by[("PodDisruptionBudget", "arka-plugin-host-pdb")]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    service = by[("Service", "arka-plugin-host")]["spec"]
    assert service["ports"] == [{"name": "grpc", "port": 8082, "targetPort": "grpc",
                                 "appProtocol": "grpc"}]
    assert service["selector"].items() <= pod_labels.items()
    policy = by[("NetworkPolicy", "arka-plugin-host-network-policy")]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["from"] == [{"podSelector": {"matchLabels": {"app": "arka-core"}}},
                               {"podSelector": {"matchLabels": {"app": "arka-rtvm"}}}]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8082}]
    (dns,) = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    core_out = by[("NetworkPolicy", "arka-core-to-plugin-host")]["spec"]
    assert core_out["podSelector"]["matchLabels"] == {"app": "arka-core"}
    assert core_out["egress"] == [{"to": [{"podSelector": {"matchLabels": {
        "app": "arka-plugin-host"}}}], "ports": [{"protocol": "TCP", "port": 8082}]}]
    settings = yaml.safe_load(by[("ConfigMap", "arka-plugin-host-config")]["data"][
        "plugin-host.yaml"])
    assert settings == {"plugins": {}}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/etc/arka/plugin-host", "/tmp"} <= mounts


def _helm_template(tmp_path: Path, *values: str) -> dict[tuple[str, str], dict[str, Any]]:
    helm = _tool("helm")
    chart = tmp_path / "arka-engine"
    shutil.copytree(CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta.pop("dependencies")
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    extra = tmp_path / "extra.yaml"
    extra.write_text("\n".join(values) + "\n")
    out = subprocess.run([helm, "template", "arka", str(chart), "--namespace", "arka-system",
                          "-f", str(GUIDE_VALUES), "-f", str(extra)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out.stdout) if d}


def test_plugin_host_values(tmp_path: Path) -> None:
    """Datasets, settings, egress and sizing come from values; disabled, nothing of the
    plugin host is rendered and ARKA Core runs plugins itself."""
    values = """
pluginHost:
  replicas: 4
  workers: 3
  pluginWorkers: 4
  isolateAll: true
  autoscaling: {enabled: false}
  resources:
    requests: {cpu: "4", memory: 8Gi, ephemeral-storage: 20Gi}
    limits: {cpu: "8", memory: 16Gi, ephemeral-storage: 40Gi}
  config:
    sanctions: {datasets: [/data/lists/ofac.csv], threshold: 0.85}
  extraVolumes: [{name: lists, persistentVolumeClaim: {claimName: sanctions-lists}}]
  extraVolumeMounts: [{name: lists, mountPath: /data/lists, readOnly: true}]
  env: [{name: SANCTIONS_API_KEY, valueFrom: {secretKeyRef: {name: s, key: k}}}]
  networkPolicy:
    extraEgress:
      - to: [{ipBlock: {cidr: 203.0.113.0/24}}]
        ports: [{protocol: TCP, port: 443}]
"""
    jsonschema.validate(_merged(yaml.safe_load(values)), SCHEMA)
    by = _helm_template(tmp_path / "on", values)
    deployment = by[("Deployment", "arka-plugin-host")]
    assert deployment["spec"]["replicas"] == 4
    assert ("HorizontalPodAutoscaler", "arka-plugin-host") not in by
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--workers") + 1] == "3" and "--isolate-all" in args
    assert args[args.index("--plugin-workers") + 1] == "4"
    assert container["resources"]["limits"]["memory"] == "16Gi"
    assert {"name": "lists", "mountPath": "/data/lists", "readOnly": True} in \
        container["volumeMounts"]
    assert any(e["name"] == "SANCTIONS_API_KEY" for e in container["env"])
    settings = yaml.safe_load(by[("ConfigMap", "arka-plugin-host-config")]["data"][
        "plugin-host.yaml"])
    assert settings == {"plugins": {"sanctions": {"datasets": ["/data/lists/ofac.csv"],
                                                  "threshold": 0.85}}}
    from arka.settings.file import Plugins
    assert Plugins.model_validate(settings["plugins"]).plugin_settings() == \
        settings["plugins"]
    egress = by[("NetworkPolicy", "arka-plugin-host-network-policy")]["spec"]["egress"]
    assert egress[-1]["to"] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]
    for doc in by.values():
        if not doc["apiVersion"].startswith("monitoring.coreos.com"):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)

    off = _helm_template(tmp_path / "off", "pluginHost: {enabled: false}")
    assert not [k for k in off if "plugin-host" in k[1]]
    core_config = yaml.safe_load(off[("ConfigMap", "arka-core-config")]["data"][
        "production.yaml"])
    assert "plugins" not in core_config
    elsewhere = _helm_template(tmp_path / "elsewhere",
                               "core: {config: {plugins: {host: 'plugins.example:9000'}}}")
    core_config = yaml.safe_load(elsewhere[("ConfigMap", "arka-core-config")]["data"][
        "production.yaml"])
    assert core_config["plugins"] == {"host": "plugins.example:9000"}


def _merged(extra: dict[str, Any]) -> dict[str, Any]:
    values = copy.deepcopy(seed_values())
    for key, value in extra.items():
        values.setdefault(key, {}).update(value)
    return values


# ── the arka-overview Grafana dashboard ───────────────────────────────────────────────────

DASHBOARD = ROOT / "deploy" / "grafana" / "arka-overview.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
#: What Grafana puts in for its variables when it runs a panel's query.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h",
                     "namespace": ".*"}


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows included."""
    out = []
    for panel in panels:
        out.append(panel)
        out += _panels(panel.get("panels", []))
    return out


def _expressions() -> list[tuple[str, str]]:
    """(panel id/refId, PromQL) of every panel query, Grafana's variables filled in."""
    def fill(expr: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            assert name in GRAFANA_VARIABLES, f"unknown variable ${name} in {expr!r}"
            return GRAFANA_VARIABLES[name]
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)

    return [(f"{panel['id']}/{target['refId']}", fill(target["expr"]))
            for panel in _panels(_dashboard()["panels"]) for target in panel.get("targets", [])]


def test_dashboard_is_a_provisionable_grafana_dashboard() -> None:
    dash = _dashboard()
    assert dash["uid"] == "arka-overview" and dash["title"] == "ARKA Engine — overview"
    assert 36 <= dash["schemaVersion"] <= 41 and dash.get("id") is None
    assert "__inputs" not in dash  # provisioned as is, not imported
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    source = {"type": "prometheus", "uid": "${datasource}"}
    panels = _panels(dash["panels"])
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(pos["x"] + i, pos["y"] + j) for i in range(pos["w"]) for j in range(pos["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "gauge"} and panel["targets"]
        assert panel["datasource"] == source, panel["title"]
        assert all(t["datasource"] == source for t in panel["targets"]), panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == source


def test_chart_dashboard_is_the_shipped_dashboard() -> None:
    assert (CHART / "files" / "arka-overview.json").read_text() == DASHBOARD.read_text()


def test_helm_renders_the_dashboard_configmap(tmp_path: Path) -> None:
    """With monitoring.grafana.enabled (the guide's values) the chart renders the dashboard
    in a ConfigMap labelled for Grafana's dashboard sidecar; the label comes from values;
    disabled, there is none; `helm lint --strict` accepts both."""
    by = _helm_template(tmp_path / "on")
    config_map = by[("ConfigMap", "arka-grafana-dashboard")]
    assert config_map["metadata"]["namespace"] == "arka-system"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert "annotations" not in config_map["metadata"]
    assert list(config_map["data"]) == ["arka-overview.json"]
    assert config_map["data"]["arka-overview.json"] == DASHBOARD.read_text()
    assert json.loads(config_map["data"]["arka-overview.json"]) == _dashboard()
    kubernetes_validate.validate(config_map, K8S_VERSION, strict=True)

    values = """
monitoring:
  grafana:
    sidecar:
      dashboards:
        label: example.com/dashboard
        labelValue: arka
        annotations: {grafana_folder: ARKA}
"""
    jsonschema.validate(_merged(yaml.safe_load(values)), SCHEMA)
    custom = _helm_template(tmp_path / "custom", values)[("ConfigMap", "arka-grafana-dashboard")]
    assert custom["metadata"]["labels"]["example.com/dashboard"] == "arka"
    assert "grafana_dashboard" not in custom["metadata"]["labels"]
    assert custom["metadata"]["annotations"] == {"grafana_folder": "ARKA"}

    for off in ("monitoring: {grafana: {enabled: false}}", "monitoring: {enabled: false}"):
        rendered = _helm_template(tmp_path / str(len(off)), off)
        assert not [k for k in rendered if "grafana" in k[1]], off
    defaults = _helm_template(tmp_path / "defaults")  # the guide's values, as lint sees them
    assert ("ConfigMap", "arka-grafana-dashboard") in defaults

    helm = _tool("helm")
    chart = tmp_path / "on" / "arka-engine"
    for extra in (tmp_path / "custom" / "extra.yaml", None):
        args = [helm, "lint", "--strict", str(chart)] + (["-f", str(extra)] if extra else [])
        lint = subprocess.run(args, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("path, value", [
    ("monitoring.grafana.enable", True),                             # typo
    ("monitoring.grafana.sidecar", {"dashboard": {}}),               # typo
    ("monitoring.grafana.sidecar", {"dashboards": {"label": "not a label"}}),
    ("monitoring.grafana.sidecar", {"dashboards": {"labelValue": 1}}),
    ("monitoring.grafana.persistence", "10Gi"),
])
def test_broken_grafana_values_fail_the_schema(path: str, value: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_broken(path, value), SCHEMA)


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Every panel's PromQL, Grafana's variables filled in, is a valid recording rule."""
    promtool = shutil.which("promtool")
    if promtool is None:
        _require_or_skip("promtool is not installed (apt-get install prometheus)")
    assert promtool is not None
    exprs = _expressions()
    assert len(exprs) >= 25
    rules = tmp_path / "dashboard-rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "arka-overview", "rules": [
        {"record": "arka_overview:panel_" + where.replace("/", "_"), "expr": expr}
        for where, expr in exprs]}]}))
    out = subprocess.run([promtool, "check", "rules", str(rules)],
                         capture_output=True, text=True)
    assert out.returncode == 0 and f"{len(exprs)} rules found" in out.stdout, \
        out.stdout + out.stderr


def _exported_metrics() -> set[str]:
    """The series names ARKA Core's registry exposes (counters as _total, histograms as
    _bucket/_sum/_count)."""
    import arka.security.sealing  # noqa: F401 - registers pact_integrity_errors_total
    from arka.observability.metrics import REGISTRY
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"],
                "gauge": [""], "summary": ["", "_sum", "_count"], "info": ["_info"]}
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    return names


def test_dashboard_uses_only_exported_metrics() -> None:
    exported = _exported_metrics()
    assert {"pact_evaluations_total", "pact_evaluation_duration_seconds_bucket",
            "pact_database_connections_available"} <= exported
    dash = _dashboard()
    queries = [expr for _, expr in _expressions()] + [
        v["definition"] for v in dash["templating"]["list"] if v["type"] == "query"]
    used: set[str] = set()
    for expr in queries:
        used |= set(re.findall(r"\b(pact_[a-z0-9_]+)", expr))
        # any other selector: a name followed by { or [ (label matchers, ranges)
        for name in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", expr):
            used.add(name)
    unknown = sorted(used - exported)
    assert not unknown, f"the dashboard uses metrics ARKA does not export: {unknown}"
    # and every metric ARKA exports is on the dashboard
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in exported}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    assert families - shown == set(), f"not on the dashboard: {sorted(families - shown)}"


def test_dashboard_draws_the_alert_thresholds() -> None:
    """Each alert of deploy/prometheus/alerts.yaml has a panel that names it and draws its
    threshold (a threshold step at the alert's bound; for '> 0' on counts, at 1)."""
    alerts = {r["alert"]: r["expr"] for g in yaml.safe_load(ALERTS.read_text())["groups"]
              for r in g["rules"]}
    panels = [p for p in _panels(_dashboard()["panels"]) if p["type"] != "row"]
    for alert, expr in alerts.items():
        m = re.search(r"([<>])\s*([0-9.]+)\s*$", expr.strip())
        assert m, alert
        bound = float(m.group(2)) or 1.0
        naming = [p for p in panels if alert in p.get("description", "")]
        assert naming, f"no panel draws {alert}"
        for panel in naming:
            values = [s["value"] for s in
                      panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
            assert bound in values, f"{panel['title']}: {alert}'s threshold {bound} is not drawn"
            if panel["type"] == "timeseries":
                mode = panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
                assert mode != "off", panel["title"]
