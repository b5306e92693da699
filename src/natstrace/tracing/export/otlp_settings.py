"""Where and how to send spans: the ``OTEL_EXPORTER_OTLP_*`` variables, read as the
stock OpenTelemetry exporters read them.

Each setting has a ``_TRACES_`` variant that wins over the general one. As in
OpenTelemetry's Python exporters, ``OTEL_EXPORTER_OTLP_TIMEOUT`` is in seconds, a
general endpoint gets ``/v1/traces`` appended for HTTP while a traces endpoint is
used as given, and a gRPC endpoint is plain text when its scheme is ``http`` or
``OTEL_EXPORTER_OTLP_INSECURE=true``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlparse

from opentelemetry.util.re import parse_env_headers

from natstrace import config

__all__ = ["OtlpSettings"]

_GRPC_ENDPOINT = "http://localhost:4317"
_HTTP_ENDPOINT = "http://localhost:4318"
_TRACES_PATH = "v1/traces"
_COMPRESSIONS = {"": "none", "none": "none", "gzip": "gzip", "deflate": "deflate"}

Protocol = Literal["grpc", "http/protobuf"]


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    """One OTLP trace endpoint and how to talk to it."""

    protocol: Protocol
    endpoint: str
    """gRPC: ``host:port``; HTTP: the full URL spans are posted to."""
    insecure: bool = True
    """gRPC only: plain text instead of TLS."""
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    """Seconds an export may take, retries included."""
    compression: str = "none"
    """``none``, ``gzip`` or (HTTP only) ``deflate``."""
    certificate: str | None = None
    """File of trusted CA certificates (TLS)."""
    client_key: str | None = None
    client_certificate: str | None = None

    @classmethod
    def from_env(cls, protocol: Protocol, environ: Mapping[str, str] | None = None) -> OtlpSettings:
        """Read the settings for ``protocol`` from ``environ`` (default: ``os.environ``).

        Raises:
            ValueError: an unusable timeout or compression; the message names the variable.
        """
        env = os.environ if environ is None else environ

        def read(traces: str, general: str) -> tuple[str, str | None]:
            if env.get(traces):
                return traces, env[traces]
            return general, env.get(general) or None

        headers = parse_env_headers(
            read(config.OTEL_EXPORTER_OTLP_TRACES_HEADERS, config.OTEL_EXPORTER_OTLP_HEADERS)[1]
            or "",
            liberal=True,
        )
        name, text = read(
            config.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, config.OTEL_EXPORTER_OTLP_TIMEOUT
        )
        try:
            timeout = float(text or 10.0)
        except ValueError:
            raise ValueError(f"{name}={text!r}: expected seconds") from None
        name, text = read(
            config.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, config.OTEL_EXPORTER_OTLP_COMPRESSION
        )
        compression = _COMPRESSIONS.get((text or "").strip().lower())
        if compression is None or (compression == "deflate" and protocol == "grpc"):
            raise ValueError(f"{name}={text!r}: expected gzip or none")
        certificate = read(
            config.OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, config.OTEL_EXPORTER_OTLP_CERTIFICATE
        )[1]
        client_key = read(
            config.OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, config.OTEL_EXPORTER_OTLP_CLIENT_KEY
        )[1]
        client_certificate = read(
            config.OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
            config.OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
        )[1]
        traces_endpoint = env.get(config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
        general_endpoint = env.get(config.OTEL_EXPORTER_OTLP_ENDPOINT)
        insecure = True
        if protocol == "grpc":
            url = traces_endpoint or general_endpoint or _GRPC_ENDPOINT
            parsed = urlparse(url)
            flag = read(
                config.OTEL_EXPORTER_OTLP_TRACES_INSECURE, config.OTEL_EXPORTER_OTLP_INSECURE
            )
            if parsed.scheme == "https":
                insecure = False
            elif flag[1] is not None:
                insecure = flag[1].strip().lower() == "true"
            else:
                insecure = parsed.scheme == "http"
            endpoint = parsed.netloc or url
        elif traces_endpoint:
            endpoint = traces_endpoint
        else:
            base = general_endpoint or _HTTP_ENDPOINT
            endpoint = f"{base.removesuffix('/')}/{_TRACES_PATH}"
        return cls(
            protocol=protocol,
            endpoint=endpoint,
            insecure=insecure,
            headers=tuple((key.lower(), value) for key, value in headers.items()),
            timeout=timeout,
            compression=compression,
            certificate=certificate,
            client_key=client_key,
            client_certificate=client_certificate,
        )
