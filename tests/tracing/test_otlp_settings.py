"""The OTLP variables natstrace's exporter reads, resolved as the stock exporters
resolve them, and the switch back to the stock exporter."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as StockGrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as StockHttpExporter,
)

from natstrace.config import Settings
from natstrace.tracing.export import OtlpSettings, OtlpSpanExporter
from natstrace.tracing.setup import build_span_exporter


def test_defaults() -> None:
    grpc = OtlpSettings.from_env("grpc", {})
    assert (grpc.endpoint, grpc.insecure, grpc.timeout, grpc.compression) == (
        "localhost:4317",
        True,
        10.0,
        "none",
    )
    assert OtlpSettings.from_env("http/protobuf", {}).endpoint == "http://localhost:4318/v1/traces"


def test_http_endpoints_general_gets_the_path_traces_is_taken_as_given() -> None:
    general = {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/"}
    assert OtlpSettings.from_env("http/protobuf", general).endpoint == (
        "https://collector:4318/v1/traces"
    )
    traces = {**general, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://other:9999/custom"}
    assert OtlpSettings.from_env("http/protobuf", traces).endpoint == "http://other:9999/custom"


@pytest.mark.parametrize(
    ("env", "endpoint", "insecure"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, "collector:4317", True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317"}, "collector:4317", False),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317",
                "OTEL_EXPORTER_OTLP_INSECURE": "true",
            },
            "collector:4317",
            True,
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
                "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "false",
            },
            "collector:4317",
            False,
        ),
    ],
)
def test_grpc_endpoint_and_transport_security(
    env: dict[str, str], endpoint: str, insecure: bool
) -> None:
    settings = OtlpSettings.from_env("grpc", env)
    assert (settings.endpoint, settings.insecure) == (endpoint, insecure)


def test_traces_variants_win() -> None:
    settings = OtlpSettings.from_env(
        "http/protobuf",
        {
            "OTEL_EXPORTER_OTLP_HEADERS": "a=1",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "B=2,c=x%20y",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2.5",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/general/ca.pem",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/traces/ca.pem",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/general/key.pem",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": "/traces/cert.pem",
        },
    )
    assert settings.headers == (("b", "2"), ("c", "x y"))
    assert settings.timeout == 2.5
    assert settings.compression == "gzip"
    assert settings.certificate == "/traces/ca.pem"
    assert settings.client_key == "/general/key.pem"
    assert settings.client_certificate == "/traces/cert.pem"


@pytest.mark.parametrize(
    ("protocol", "variable", "value"),
    [
        ("grpc", "OTEL_EXPORTER_OTLP_COMPRESSION", "deflate"),
        ("http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
        ("grpc", "OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
    ],
)
def test_bad_values_name_the_variable(protocol: str, variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        OtlpSettings.from_env(protocol, {variable: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("protocol", "stock"), [("grpc", StockGrpcExporter), ("http/protobuf", StockHttpExporter)]
)
def test_natstrace_exporter_by_default_stock_one_switch_away(protocol: str, stock: type) -> None:
    ours = build_span_exporter(Settings.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": protocol}))
    assert isinstance(ours, OtlpSpanExporter)
    assert ours.settings.protocol == protocol
    switched = Settings.from_env(
        {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "NATSTRACE_OTLP_ENCODER": "stock"}
    )
    assert isinstance(build_span_exporter(switched), stock)
    with pytest.raises(ValueError, match="NATSTRACE_OTLP_ENCODER"):
        Settings.from_env({"NATSTRACE_OTLP_ENCODER": "fast"})
