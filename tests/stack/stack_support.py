"""Helpers for the observability-stack tests: a real Prometheus, the dashboards'
queries, and a contract-shaped metrics endpoint to scrape (fixtures: conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_CONFIG = ROOT / "collector-config"
PROMETHEUS_DIR = COLLECTOR_CONFIG / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
DASHBOARDS = ROOT / "dashboards"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package 'prometheus'; CI installs it)")
    return path


# --- the dashboards ----------------------------------------------------------------


def load_generator() -> ModuleType:
    """dashboards/generate.py, imported as ``python dashboards/generate.py`` runs it:
    with dashboards/ first on the path, for its sibling modules."""
    sys.path.insert(0, str(DASHBOARDS))
    try:
        spec = importlib.util.spec_from_file_location(
            "dashboards_generate", DASHBOARDS / "generate.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(DASHBOARDS))


def checked_in_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel, rows included."""
    found = []
    for panel in board["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                if target.get("expr"):
                    found.append((inner["title"], target["expr"]))
    return found


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana's $var and ${var} the way Grafana would for one selection."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no test value for Grafana variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def rule_expressions() -> list[tuple[str, str]]:
    """(rule name, PromQL) for every recording and alerting rule."""
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found.append((rule.get("alert") or rule["record"], rule["expr"]))
    return found


# --- a real Prometheus ---------------------------------------------------------------


class Prometheus:
    """The Debian prometheus binary on a free loopback port, with exemplar storage,
    a temporary TSDB, and natstrace's rule files evaluated every second; `config`
    replaces the one-job config scraping `targets`."""

    def __init__(
        self, targets: list[str], config: dict[str, Any] | None = None, port: int = 0
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="natstrace-prometheus-"))
        config = config or {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in RULE_FILES],
            "scrape_configs": [{"job_name": "natstrace", "static_configs": [{"targets": targets}]}],
        }
        (self._dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = (self._dir / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                require_binary("prometheus"),
                f"--config.file={self._dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--enable-feature=exemplar-storage",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"prometheus not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return (self._dir / "prometheus.log").read_text(errors="replace")[-3000:]

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET /api/v1/<path>; a PromQL error comes back as status "error" (HTTP 400)."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        return body

    def query(self, expr: str) -> dict[str, Any]:
        return self.api("query", query=expr)

    def wait_for(self, expr: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Poll until `expr` returns at least one sample; return the last result."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            body = self.query(expr)
            assert body["status"] == "success", body
            result = body["data"]["result"]
            if result:
                return result
            time.sleep(0.5)
        return result

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)


# --- contract-shaped metrics -----------------------------------------------------------


class ContractWorkload:
    """Every metric of the natstrace metric contract (README, "Metrics"), with the contract's
    labels and trace_id exemplars, kept moving by a thread and served over HTTP.

    It stands in for the core library so the dashboards and rules can be checked
    against the contract on their own; the live test checks the real library."""

    SERVICES = ("orders", "payments")

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        sent_labels = ["service_name", "messaging_system", "messaging_operation_name"]
        dest = ["messaging_destination_name"]
        group = ["messaging_consumer_group_name"]
        self.sent = Counter(
            "messaging_client_sent_messages", "", [*sent_labels, *dest, "error_type"], registry=r
        )
        self.consumed = Counter(
            "messaging_client_consumed_messages",
            "",
            [*sent_labels, *dest, *group, "error_type"],
            registry=r,
        )
        self.operation = Histogram(
            "messaging_client_operation_duration_seconds",
            "",
            [*sent_labels, *dest, "error_type"],
            registry=r,
        )
        self.process = Histogram(
            "messaging_process_duration_seconds",
            "",
            [*sent_labels, *dest, *group, "error_type"],
            registry=r,
        )
        jet = ["service_name", *dest, *group]
        self.delivery = Histogram("natstrace_delivery_latency_seconds", "", jet, registry=r)
        self.in_flight = Gauge("natstrace_messages_in_flight", "", jet, registry=r)
        self.redeliveries = Counter("natstrace_redeliveries", "", jet, registry=r)
        self.settlements = Counter("natstrace_settlements", "", [*jet, "outcome"], registry=r)
        self.pending = Gauge(
            "natstrace_consumer_pending_messages",
            "",
            ["service_name", "stream", "consumer"],
            registry=r,
        )
        self.dropped = Counter(
            "natstrace_spans_dropped", "", ["service_name", "reason"], registry=r
        )
        self.invalid = Counter(
            "natstrace_invalid_headers", "", ["service_name", "header"], registry=r
        )
        self.port = free_port()
        self.server, self._thread = start_http_server(self.port, addr="127.0.0.1", registry=r)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._run, daemon=True)
        self._ticker.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            self.tick(tick)
            tick += 1
            self._stop.wait(0.1)

    def tick(self, n: int) -> None:
        trace = {"trace_id": f"{random.getrandbits(128):032x}"}
        error = "ValueError" if n % 5 == 0 else ""
        for service in self.SERVICES:
            subject, group = (
                ("orders.*", "payments") if service == "payments" else ("payments.*", "")
            )
            common = {"service_name": service, "messaging_system": "nats"}
            self.sent.labels(
                **common,
                messaging_operation_name="send",
                messaging_destination_name="shipping.*",
                error_type="",
            ).inc(exemplar=trace)
            self.sent.labels(
                **common,
                messaging_operation_name="request",
                messaging_destination_name="inventory.reserve",
                error_type="TimeoutError" if n % 7 == 0 else "",
            ).inc()
            self.consumed.labels(
                **common,
                messaging_operation_name="process",
                messaging_destination_name=subject,
                messaging_consumer_group_name=group,
                error_type=error,
            ).inc(exemplar=trace)
            for operation in ("send", "request", "receive", "settle"):
                self.operation.labels(
                    **common,
                    messaging_operation_name=operation,
                    messaging_destination_name=subject,
                    error_type="",
                ).observe(0.002 * (1 + n % 4), exemplar=trace)
            self.process.labels(
                **common,
                messaging_operation_name="process",
                messaging_destination_name=subject,
                messaging_consumer_group_name=group,
                error_type=error,
            ).observe(0.01 * (1 + n % 10), exemplar=trace)
            jet = {
                "service_name": service,
                "messaging_destination_name": subject,
                "messaging_consumer_group_name": group,
            }
            self.delivery.labels(**jet).observe(0.05 * (1 + n % 3), exemplar=trace)
            self.in_flight.labels(**jet).set(n % 3)
            self.redeliveries.labels(**jet).inc(n % 2)
            self.settlements.labels(**jet, outcome="ack").inc()
            self.settlements.labels(**jet, outcome="nak").inc(n % 2)
            self.pending.labels(service_name=service, stream="ORDERS", consumer=service).set(n)
            self.dropped.labels(service_name=service, reason="queue_full").inc(n % 2)
            self.invalid.labels(service_name=service, header="traceparent").inc(n % 2)

    def stop(self) -> None:
        self._stop.set()
        self._ticker.join()
        self.server.shutdown()
