"""Configuration: one typed object, read from ``OTEL_*`` and ``NATSTRACE_*`` variables.

Every environment variable natstrace reads is named in this module. Variables that
the OpenTelemetry SDK and exporters read themselves (``OTEL_TRACES_SAMPLER``,
``OTEL_TRACES_SAMPLER_ARG``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_PROPAGATORS``, and ``OTEL_BSP_EXPORT_TIMEOUT`` for
the SDK's batch processor behind other exporters) keep their standard meaning and
are left to them. The span queue's bound (``OTEL_BSP_MAX_QUEUE_SIZE``), batch size
and schedule delay are read here, because natstrace's span processors enforce and
use them (see :mod:`natstrace.tracing.setup`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ConsumerSpanPolicy", "Settings", "Trust"]

ConsumerSpanPolicy = Literal["parent", "link", "auto"]
"""How a consumer span refers to its producer: see README, "Consumer span policy"."""

Trust = Literal["trusted", "untrusted"]
"""Whether a subscription's publishers may steer its tracing: see README, "Trust boundaries"."""

# Standard OpenTelemetry variables.
OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTEL_EXPORTER_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
OTEL_METRICS_EXPORTER = "OTEL_METRICS_EXPORTER"
OTEL_EXPORTER_PROMETHEUS_HOST = "OTEL_EXPORTER_PROMETHEUS_HOST"
OTEL_EXPORTER_PROMETHEUS_PORT = "OTEL_EXPORTER_PROMETHEUS_PORT"
OTEL_BSP_MAX_QUEUE_SIZE = "OTEL_BSP_MAX_QUEUE_SIZE"
OTEL_BSP_MAX_EXPORT_BATCH_SIZE = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
OTEL_BSP_SCHEDULE_DELAY = "OTEL_BSP_SCHEDULE_DELAY"
# The OTLP exporter's settings, each with a ``_TRACES_`` variant that wins
# (read by natstrace.tracing.export.otlp_settings).
OTEL_EXPORTER_OTLP_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
OTEL_EXPORTER_OTLP_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
OTEL_EXPORTER_OTLP_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
OTEL_EXPORTER_OTLP_COMPRESSION = "OTEL_EXPORTER_OTLP_COMPRESSION"
OTEL_EXPORTER_OTLP_TRACES_COMPRESSION = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
OTEL_EXPORTER_OTLP_INSECURE = "OTEL_EXPORTER_OTLP_INSECURE"
OTEL_EXPORTER_OTLP_TRACES_INSECURE = "OTEL_EXPORTER_OTLP_TRACES_INSECURE"
OTEL_EXPORTER_OTLP_CERTIFICATE = "OTEL_EXPORTER_OTLP_CERTIFICATE"
OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"
OTEL_EXPORTER_OTLP_CLIENT_KEY = "OTEL_EXPORTER_OTLP_CLIENT_KEY"
OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"
OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"
OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"

# natstrace's own variables.
NATSTRACE_CONSUMER_SPAN_POLICY = "NATSTRACE_CONSUMER_SPAN_POLICY"
NATSTRACE_SUBJECT_TEMPLATES = "NATSTRACE_SUBJECT_TEMPLATES"
NATSTRACE_BAGGAGE_ALLOWLIST = "NATSTRACE_BAGGAGE_ALLOWLIST"
NATSTRACE_OTLP_ENCODER = "NATSTRACE_OTLP_ENCODER"

_POLICIES: tuple[ConsumerSpanPolicy, ...] = ("parent", "link", "auto")
_PROTOCOLS = ("grpc", "http/protobuf")
_ENCODERS = ("natstrace", "stock")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name) or str(default)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r}: expected a positive integer")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything natstrace can be configured with, and its defaults.

    Build it from the environment with :meth:`from_env`; pass it, or individual
    keyword arguments, to :func:`natstrace.configure`.
    """

    service_name: str | None = None
    """``OTEL_SERVICE_NAME``; else ``OTEL_RESOURCE_ATTRIBUTES``, else ``unknown_service``."""

    sdk_disabled: bool = False
    """``OTEL_SDK_DISABLED=true``: configure no tracing (instrumentation still propagates IDs)."""

    traces_exporter: str = "otlp"
    """``OTEL_TRACES_EXPORTER``: ``otlp`` (default), ``console`` or ``none``."""

    otlp_endpoint: str | None = None
    """``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``, if set (the
    exporter reads it itself; natstrace only checks whether one is configured)."""

    otlp_protocol: str = "http/protobuf"
    """``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` or ``OTEL_EXPORTER_OTLP_PROTOCOL``:
    ``http/protobuf`` (the specification's default) or ``grpc``."""

    metrics_exporter: tuple[str, ...] = ()
    """``OTEL_METRICS_EXPORTER``: ``prometheus`` makes :func:`natstrace.configure` serve metrics."""

    prometheus_host: str = "localhost"
    """``OTEL_EXPORTER_PROMETHEUS_HOST``: address the metrics endpoint binds to."""

    prometheus_port: int = 9464
    """``OTEL_EXPORTER_PROMETHEUS_PORT``: port of the metrics endpoint."""

    consumer_span_policy: ConsumerSpanPolicy = "auto"
    """``NATSTRACE_CONSUMER_SPAN_POLICY``: ``parent``, ``link`` or ``auto`` (default)."""

    subject_templates: tuple[str, ...] = field(default=())
    """``NATSTRACE_SUBJECT_TEMPLATES``: comma-separated wildcard subjects (``orders.*.created``)
    that published subjects are folded into for span names and metric labels."""

    span_queue_size: int = 2048
    """``OTEL_BSP_MAX_QUEUE_SIZE``: most finished spans held for export; beyond it new
    spans are dropped and counted (``natstrace_spans_dropped_total{reason="queue_full"}``)."""

    span_batch_size: int = 512
    """``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``: spans per export (capped at the queue size)."""

    span_schedule_delay: float = 5.0
    """``OTEL_BSP_SCHEDULE_DELAY`` (milliseconds): seconds the export worker waits for
    a full batch before it sends what it has."""

    baggage_allowlist: tuple[str, ...] = ()
    """``NATSTRACE_BAGGAGE_ALLOWLIST``: comma-separated baggage keys that may cross into
    an untrusted subscription's handler (``trust="untrusted"``); all others are dropped."""

    otlp_encoder: str = "natstrace"
    """``NATSTRACE_OTLP_ENCODER``: ``natstrace`` (default) exports with natstrace's OTLP
    exporter, which writes the protobuf wire format directly; ``stock`` with
    OpenTelemetry's own OTLP exporters. Both read the same ``OTEL_EXPORTER_OTLP_*``
    variables."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``).

        Raises:
            ValueError: a variable has a value natstrace cannot use; the message names it.
        """
        env = os.environ if environ is None else environ
        protocol = (
            env.get(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)
            or env.get(OTEL_EXPORTER_OTLP_PROTOCOL)
            or "http/protobuf"
        ).strip()
        if protocol not in _PROTOCOLS:
            expected = ", ".join(_PROTOCOLS)
            raise ValueError(f"{OTEL_EXPORTER_OTLP_PROTOCOL}={protocol!r}: expected {expected}")
        policy = (env.get(NATSTRACE_CONSUMER_SPAN_POLICY) or "auto").strip()
        if policy not in _POLICIES:
            expected = ", ".join(_POLICIES)
            raise ValueError(f"{NATSTRACE_CONSUMER_SPAN_POLICY}={policy!r}: expected {expected}")
        encoder = (env.get(NATSTRACE_OTLP_ENCODER) or "natstrace").strip().lower()
        if encoder not in _ENCODERS:
            expected = ", ".join(_ENCODERS)
            raise ValueError(f"{NATSTRACE_OTLP_ENCODER}={encoder!r}: expected {expected}")
        port_text = env.get(OTEL_EXPORTER_PROMETHEUS_PORT) or "9464"
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"{OTEL_EXPORTER_PROMETHEUS_PORT}={port_text!r}: not a port") from None
        return cls(
            service_name=env.get(OTEL_SERVICE_NAME) or None,
            sdk_disabled=_flag(env.get(OTEL_SDK_DISABLED)),
            traces_exporter=(env.get(OTEL_TRACES_EXPORTER) or "otlp").strip().lower(),
            otlp_endpoint=env.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
            or env.get(OTEL_EXPORTER_OTLP_ENDPOINT)
            or None,
            otlp_protocol=protocol,
            metrics_exporter=_names(env.get(OTEL_METRICS_EXPORTER)),
            prometheus_host=env.get(OTEL_EXPORTER_PROMETHEUS_HOST) or "localhost",
            prometheus_port=port,
            consumer_span_policy=policy,
            subject_templates=_names(env.get(NATSTRACE_SUBJECT_TEMPLATES)),
            span_queue_size=_positive(env, OTEL_BSP_MAX_QUEUE_SIZE, 2048),
            span_batch_size=_positive(env, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512),
            span_schedule_delay=_positive(env, OTEL_BSP_SCHEDULE_DELAY, 5000) / 1000,
            baggage_allowlist=_names(env.get(NATSTRACE_BAGGAGE_ALLOWLIST)),
            otlp_encoder=encoder,
        )
