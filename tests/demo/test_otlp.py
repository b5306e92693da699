"""With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, every service exports over OTLP (as in
the compose stack) and no local file is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from natstrace.demo.options import SERVICES
from tests.demo.processes import DemoProcess
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration


def test_spans_go_to_the_otlp_endpoint(otlp_receiver: OtlpReceiver, tmp_path: Path) -> None:
    demo = DemoProcess.start(
        ["--orders", "4", "--interval", "0.02"],
        cwd=tmp_path,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.http_endpoint},
    )
    returncode, output = demo.finish(timeout=30)

    assert returncode == 0, output
    assert f"Traces: OTLP to {otlp_receiver.http_endpoint}" in output
    assert "--jaeger http://localhost:16686" in output
    # Every service flushed before it exited: the spans are there already.
    assert {span.service_name for span in otlp_receiver.spans} == set(SERVICES)
    assert not (tmp_path / "natstrace-traces.jsonl").exists()
    assert demo.left_behind() == []


def test_services_serve_metrics_once_under_the_prometheus_exporter_variable(
    tmp_path: Path,
) -> None:
    # Each service serves its metrics on its own port; the variable must not make all
    # five contend for its default port as well.
    demo = DemoProcess.start(
        ["--orders", "2", "--interval", "0.02"],
        cwd=tmp_path,
        env={"OTEL_METRICS_EXPORTER": "prometheus"},
    )
    returncode, output = demo.finish(timeout=30)
    assert returncode == 0, output
    assert "Demo finished: 2 orders placed" in output
    assert demo.left_behind() == []
