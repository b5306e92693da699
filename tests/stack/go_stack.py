"""Jaeger v2 and natstrace's OpenTelemetry Collector as real processes, started on
free loopback ports with the shipped configs (only ports and endpoints changed).

`./dev test` builds both from collector-config/build/ and names the binaries in
NATSTRACE_TEST_JAEGER and NATSTRACE_TEST_OTELCOL; without them these tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from stack_support import COLLECTOR_CONFIG, PROMETHEUS_DIR, RULE_FILES, free_port

OTELCOL_YAML = COLLECTOR_CONFIG / "otelcol.yaml"
AGENT_YAML = COLLECTOR_CONFIG / "scale-out" / "agent.yaml"
JAEGER_YAML = COLLECTOR_CONFIG / "jaeger.yaml"


def load_yaml(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


DECISION_WAIT = float(
    load_yaml(OTELCOL_YAML)["processors"]["tail_sampling"]["decision_wait"].rstrip("s")
)
"""Seconds otelcol.yaml's tail sampling waits after a trace's first span."""


def go_binary(name: str) -> str:
    """The binary `./dev test` built for `name` (jaeger, otelcol), or skip."""
    path = os.environ.get(f"NATSTRACE_TEST_{name.upper()}", "")
    if not path or not Path(path).is_file():
        pytest.skip(f"{name} not built: run the tests with ./dev test (needs Go 1.26+)")
    return path


def local(port: int) -> str:
    return f"127.0.0.1:{port}"


def replace_endpoints(node: Any, mapping: dict[str, str]) -> Any:
    """A copy of a config with every string in `mapping` replaced (exact values
    and the host:port inside URLs), and every `host: 0.0.0.0` telemetry listener on
    loopback with the port `mapping` gives for its old port."""
    if isinstance(node, dict):
        copy = {key: replace_endpoints(value, mapping) for key, value in node.items()}
        if copy.get("host") == "0.0.0.0" and "port" in copy:
            copy["host"] = "127.0.0.1"
            copy["port"] = int(mapping[f"0.0.0.0:{copy['port']}"].rsplit(":", 1)[1])
        return copy
    if isinstance(node, list):
        return [replace_endpoints(item, mapping) for item in node]
    if isinstance(node, str):
        for old, new in mapping.items():
            if node == old or node.startswith(f"http://{old}"):
                return node.replace(old, new)
    return node


def unreplaced_listeners(node: Any) -> list[str]:
    """Endpoints still on 0.0.0.0 (a listener the test forgot to move)."""
    if isinstance(node, dict):
        return [found for value in node.values() for found in unreplaced_listeners(value)]
    if isinstance(node, list):
        return [found for item in node for found in unreplaced_listeners(item)]
    return [node] if isinstance(node, str) and node.startswith("0.0.0.0") else []


class GoProcess:
    """One binary with one config file, its output in a log, stopped with SIGTERM."""

    def __init__(self, name: str, binary: str, config: dict[str, Any], ready_url: str) -> None:
        assert unreplaced_listeners(config) == [], unreplaced_listeners(config)
        self.name = name
        self.binary = binary
        self.config = config
        self.ready_url = ready_url
        self._dir = Path(tempfile.mkdtemp(prefix=f"natstrace-{name}-"))
        self.config_path = self._dir / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = self._dir / "output.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> GoProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def deprecations(self) -> list[str]:
        """Log lines that warn about deprecated config (an alias, a renamed field)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if "deprecat" in line.lower()]

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def get_json(url: str, timeout: float = 10.0) -> Any:
    """GET a JSON document; HTTP errors come back as {"error": status, "body": ...}."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return {"error": error.code, "body": error.read().decode(errors="replace")}


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call `check` until it returns something truthy; return its last result."""
    deadline = time.monotonic() + timeout
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(interval)
        result = check()
    return result


# --- the three programs ----------------------------------------------------------------


class Jaeger(GoProcess):
    """Jaeger v2 with collector-config/jaeger.yaml: OTLP in, query API, Monitor tab
    on the given Prometheus."""

    def __init__(self, prometheus_url: str) -> None:
        self.query_port, self.otlp_grpc_port = free_port(), free_port()
        mapping = {
            "0.0.0.0:16686": local(self.query_port),
            "0.0.0.0:16685": local(free_port()),
            "0.0.0.0:4317": local(self.otlp_grpc_port),
            "0.0.0.0:4318": local(free_port()),
            "0.0.0.0:8888": local(free_port()),
            "prometheus:9090": prometheus_url.removeprefix("http://"),
        }
        config = replace_endpoints(load_yaml(JAEGER_YAML), mapping)
        self.url = f"http://{local(self.query_port)}"
        super().__init__("jaeger", go_binary("jaeger"), config, f"{self.url}/api/v3/services")

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        return get_json(f"{self.url}{path}?{query}" if query else f"{self.url}{path}")

    def services(self) -> list[str]:
        names: list[str] = self.api("/api/v3/services").get("services") or []
        return names

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        body = self.api(f"/api/v3/traces/{trace_id}")
        return list(body.get("result", {}).get("resourceSpans", []))


class Collector(GoProcess):
    """natstrace's collector build with a shipped config, its listeners on loopback.

    `upstream` maps the config's outbound endpoints (jaeger:4317, the agent's
    gateways) to where they really are."""

    def __init__(
        self,
        name: str,
        path: Path = OTELCOL_YAML,
        upstream: dict[str, str] | None = None,
        edit: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.grpc_port, self.http_port = free_port(), free_port()
        self.health_port, self.telemetry_port = free_port(), free_port()
        self.spanmetrics_port = free_port()
        mapping = {
            "0.0.0.0:4317": local(self.grpc_port),
            "0.0.0.0:4318": local(self.http_port),
            "0.0.0.0:13133": local(self.health_port),
            "0.0.0.0:8888": local(self.telemetry_port),
            "0.0.0.0:8889": local(self.spanmetrics_port),
            **(upstream or {}),
        }
        config = replace_endpoints(load_yaml(path), mapping)
        if edit is not None:
            edit(config)
        super().__init__(name, go_binary("otelcol"), config, f"http://{local(self.health_port)}/")

    @property
    def otlp_http(self) -> str:
        return f"http://{local(self.http_port)}"

    @property
    def otlp_grpc(self) -> str:
        return local(self.grpc_port)

    def telemetry(self) -> str:
        """The collector's own metrics (Prometheus text)."""
        url = f"http://{local(self.telemetry_port)}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text: str = response.read().decode()
            return text


def telemetry_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of metric `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series.split("{")[0] != name:
            continue
        if all(f'{key}="{val}"' in series for key, val in labels.items()):
            total += float(value)
    return total


def prometheus_config(
    jobs: dict[str, list[str]], path: Path = PROMETHEUS_DIR / "prometheus.yml"
) -> dict[str, Any]:
    """The shipped Prometheus config with each job's targets replaced by loopback
    ones (DNS names of the compose network do not resolve here), a 1 s scrape
    interval, and the rule files by absolute path."""
    config = load_yaml(path)
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(p) for p in RULE_FILES]
    for job in config["scrape_configs"]:
        for discovery in ("static_configs", "dns_sd_configs"):
            job.pop(discovery, None)
        job["static_configs"] = [{"targets": jobs.get(job["job_name"], [])}]
    return config
