"""A first run without a collector: one short warning, and a shutdown that does not
wait for retries. Each case runs in its own process, as a first try would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from natstrace.embedded_server import free_port

pytestmark = pytest.mark.integration

APP = """
import json, time
import natstrace
from opentelemetry import trace

natstrace.configure(service_name="first-run")
with trace.get_tracer("app").start_as_current_span("hello"):
    pass
started = time.monotonic()
flushed = natstrace.shutdown()
print(json.dumps({"flushed": flushed, "seconds": time.monotonic() - started}))
"""


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_no_collector_means_one_warning_and_a_quick_shutdown(protocol: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "NATSTRACE_"))}
    env = {
        **clean,
        # Nothing listens there: the connection is refused.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
    }
    result = subprocess.run(
        [sys.executable, "-c", APP], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["flushed"] is True, "the exporter gave up at once, within the shutdown's timeout"
    assert out["seconds"] < 1.0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "could not export 1 spans to the OTLP collector at " in lines[0]
    assert "127.0.0.1" in lines[0]
    assert "OTEL_TRACES_EXPORTER=console" in lines[0]
