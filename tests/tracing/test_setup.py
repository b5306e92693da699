"""configure() from OTEL_* variables, exporting over both OTLP transports to a real
receiver; each case runs in its own process, as an application would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from natstrace.config import Settings
from natstrace.embedded_server import EmbeddedNatsServer
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

APP = """
import asyncio, json, sys, time, nats, natstrace
{setup}

async def main():
    nc = natstrace.instrument(await nats.connect(sys.argv[1]))
    got = asyncio.Event()
    headers = {{}}

    async def handle(msg):
        headers.update(msg.headers)
        got.set()

    await nc.subscribe("app.events", cb=handle)
    await nc.publish("app.events", b"hi")
    await asyncio.wait_for(got.wait(), 5)
    await nc.drain()
    started = time.monotonic()
    flushed = natstrace.shutdown(timeout=float(sys.argv[2]))
    print(json.dumps({{"headers": headers, "flushed": flushed,
                      "shutdown_seconds": time.monotonic() - started}}))

asyncio.run(main())
"""


def _run(
    tmp_path: Path, server: EmbeddedNatsServer, setup: str, env: dict[str, str], timeout: float = 5
) -> dict[str, object]:
    import json

    script = tmp_path / "app.py"
    script.write_text(APP.format(setup=textwrap.dedent(setup)))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "NATSTRACE_"))}
    result = subprocess.run(
        [sys.executable, str(script), server.url, str(timeout)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


@pytest.mark.parametrize(
    ("protocol", "endpoint_attr"), [("grpc", "grpc_endpoint"), ("http/protobuf", "http_endpoint")]
)
def test_configure_exports_over_otlp_from_environment(
    tmp_path: Path,
    nats_server: EmbeddedNatsServer,
    otlp_receiver: OtlpReceiver,
    protocol: str,
    endpoint_attr: str,
) -> None:
    out = _run(
        tmp_path,
        nats_server,
        'natstrace.configure(service_name="orders", service_version="1.2.3")',
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": getattr(otlp_receiver, endpoint_attr),
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        },
    )
    assert out["flushed"] is True
    spans = otlp_receiver.wait_for(2)
    assert {s.name for s in spans} == {"send app.events", "process app.events"}
    assert {s.service_name for s in spans} == {"orders"}
    assert {s.transport for s in spans} == {"grpc" if protocol == "grpc" else "http"}


def test_sampler_from_environment_and_ids_still_flow(
    tmp_path: Path, nats_server: EmbeddedNatsServer, otlp_receiver: OtlpReceiver
) -> None:
    out = _run(
        tmp_path,
        nats_server,
        "natstrace.configure()",
        {
            "OTEL_SERVICE_NAME": "from-env",
            "OTEL_TRACES_SAMPLER": "always_off",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.http_endpoint,
        },
    )
    headers = out["headers"]
    assert isinstance(headers, dict)
    flags = int(headers["traceparent"].split("-")[3], 16)
    assert flags & 1 == 0, "not sampled, but the context still propagates"
    assert headers["Correlation-Id"] == headers["Nats-Msg-Id"]
    # The process flushed its exporter before it exited, and the receiver stores a
    # batch before it answers: a recorded span would be here by now.
    assert out["flushed"] is True
    assert otlp_receiver.spans == []


def test_an_application_provider_is_used_not_replaced(
    tmp_path: Path, nats_server: EmbeddedNatsServer, otlp_receiver: OtlpReceiver
) -> None:
    setup = f"""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    provider = TracerProvider(resource=Resource.create({{"service.name": "app-owned"}}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint="{otlp_receiver.http_endpoint}/v1/traces"))
    )
    trace.set_tracer_provider(provider)
    natstrace.configure(service_name="ignored-for-tracing")
    from natstrace.lifecycle import default_metrics
    assert default_metrics().service_name == "app-owned", default_metrics().service_name
    """
    _run(tmp_path, nats_server, setup, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    spans = otlp_receiver.wait_for(2)
    assert {s.service_name for s in spans} == {"app-owned"}


def test_shutdown_is_bounded_when_the_collector_never_answers(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    # A black hole: accepts connections and never replies.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        port = hole.getsockname()[1]
        out = _run(
            tmp_path,
            nats_server,
            'natstrace.configure(service_name="stuck")',
            {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"},
            timeout=1.0,
        )
    assert out["flushed"] is False
    assert out["shutdown_seconds"] < 1.5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("NATSTRACE_CONSUMER_SPAN_POLICY", "sometimes"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "ninety"),
        ("OTEL_BSP_SCHEDULE_DELAY", "0"),
    ],
)
def test_bad_settings_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_settings_defaults_and_parsing() -> None:
    assert Settings.from_env({}) == Settings()
    settings = Settings.from_env(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "NATSTRACE_SUBJECT_TEMPLATES": "orders.*, payments.> ,",
            "OTEL_SDK_DISABLED": "TRUE",
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_BSP_SCHEDULE_DELAY": "250",
        }
    )
    assert settings.span_schedule_delay == 0.25, "milliseconds, as the SDK reads it"
    assert settings.otlp_protocol == "http/protobuf", "the signal-specific variable wins"
    assert settings.subject_templates == ("orders.*", "payments.>")
    assert settings.sdk_disabled is True
    assert settings.metrics_exporter == ("prometheus",)
