"""OTLP/HTTP with protobuf bodies: encoded requests posted over one kept-alive
connection."""

from __future__ import annotations

import gzip
import http.client
import ssl
import zlib
from email.utils import parsedate_to_datetime
from time import time
from urllib.parse import urlsplit

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from natstrace.tracing.export.otlp_settings import OtlpSettings
from natstrace.tracing.export.transport import Attempt

__all__ = ["HttpTransport"]

_USER_AGENT = "natstrace OTLP exporter"
# The statuses the stock exporter retries.
_RETRYABLE = frozenset({429, 502, 503, 504})


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time(), 0.0)
    except (TypeError, ValueError):
        return None


class HttpTransport:
    """Posts to ``settings.endpoint``, reusing the connection while the server keeps it."""

    def __init__(self, settings: OtlpSettings) -> None:
        self.endpoint = settings.endpoint
        url = urlsplit(settings.endpoint)
        self._secure = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._secure else 80)
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._context: ssl.SSLContext | None = None
        if self._secure:
            self._context = ssl.create_default_context(cafile=settings.certificate)
            if settings.client_certificate:
                self._context.load_cert_chain(settings.client_certificate, settings.client_key)
        self._compression = settings.compression
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": _USER_AGENT,
            **dict(settings.headers),
        }
        if self._compression != "none":
            self._headers["Content-Encoding"] = self._compression
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._context is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def send(self, body: bytes, timeout: float) -> Attempt:
        if self._compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
        elif self._compression == "deflate":
            body = zlib.compress(body)
        # A kept-alive connection the server has closed fails on first use: try once
        # more at once on a new one before calling it a failed attempt.
        reused = self._connection is not None
        while True:
            try:
                return self._post(body, timeout)
            except (OSError, http.client.HTTPException) as error:
                self.reconnect()
                if reused:
                    reused = False
                    continue
                return Attempt(False, retryable=True, detail=f"{type(error).__name__}: {error}")

    def _post(self, body: bytes, timeout: float) -> Attempt:
        connection = self._connection
        if connection is None:
            connection = self._connection = self._connect(timeout)
        else:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
        connection.request("POST", self._path, body=body, headers=self._headers)
        response = connection.getresponse()
        payload = response.read()
        if response.will_close:
            self.reconnect()
        status = response.status
        if 200 <= status < 300:
            rejected, message = 0, ""
            if payload:
                try:
                    partial = ExportTraceServiceResponse.FromString(payload).partial_success
                    rejected, message = partial.rejected_spans, partial.error_message
                except Exception:  # a body that is not a protobuf response: delivered all the same
                    pass
            return Attempt(True, rejected=rejected, detail=message)
        return Attempt(
            False,
            retryable=status in _RETRYABLE,
            retry_after=_retry_after(response.getheader("Retry-After"))
            if status in _RETRYABLE
            else None,
            detail=f"HTTP {status} {response.reason}",
        )

    def reconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def close(self) -> None:
        self.reconnect()
