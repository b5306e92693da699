"""natstrace's OTLP span exporter: the fast encoder, a transport, and the stock
exporter's retry policy.

Retries follow OpenTelemetry's OTLP exporters: up to six attempts with exponential
backoff (1 s, 2 s, 4 s ... with 20 % jitter, or what the collector asked for)
while the export's timeout allows, for the errors they retry (gRPC UNAVAILABLE and
the like, HTTP 429/502/503/504, a refused connection). A partially successful
request is not retried; its rejected spans are logged (at most once a minute).

An unreachable collector is reported once, as one WARNING line, and again only
after exports have worked in between; the retries themselves log at DEBUG. Once
:meth:`OtlpSpanExporter.stop_retrying` is called (natstrace's span processor calls
it when shutting down), each export makes one attempt, so a missing collector
cannot hold up the application's exit.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Sequence
from time import monotonic

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from natstrace.config import Settings
from natstrace.tracing.export.encoder import SpanEncoder
from natstrace.tracing.export.otlp_settings import OtlpSettings, Protocol
from natstrace.tracing.export.transport import Attempt, Transport

__all__ = ["OtlpSpanExporter"]

_log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 6
_REJECTION_LOG_INTERVAL = 60.0


def _transport(settings: OtlpSettings) -> Transport:
    if settings.protocol == "grpc":
        from natstrace.tracing.export.grpc_transport import GrpcTransport

        return GrpcTransport(settings)
    from natstrace.tracing.export.http_transport import HttpTransport

    return HttpTransport(settings)


class OtlpSpanExporter(SpanExporter):
    """Exports spans over OTLP (gRPC or HTTP/protobuf), encoded by natstrace.

    Sends what OpenTelemetry's ``OTLPSpanExporter`` would send, for a fraction of
    the CPU. Reads the same ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers,
    timeout, compression, TLS certificates, each with its ``_TRACES_`` variant).
    For an application that builds its own tracer provider (the SDK's
    ``BatchSpanProcessor`` works too, encoding whole batches on its worker)::

        provider.add_span_processor(EncodingSpanProcessor(OtlpSpanExporter()))

    Args:
        protocol: ``grpc`` or ``http/protobuf``; default ``OTEL_EXPORTER_OTLP_PROTOCOL``
            (``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``), else ``http/protobuf``.
        endpoint: overrides the endpoint from the environment (gRPC: ``host:port``
            or a URL; HTTP: the full URL, ``.../v1/traces``).
        settings: everything at once, instead of the environment.
    """

    def __init__(
        self,
        protocol: Protocol | None = None,
        *,
        endpoint: str | None = None,
        settings: OtlpSettings | None = None,
    ) -> None:
        if settings is None:
            chosen = protocol or Settings.from_env().otlp_protocol
            settings = OtlpSettings.from_env("grpc" if chosen == "grpc" else "http/protobuf")
        if endpoint is not None:
            if settings.protocol == "grpc":
                settings = dataclasses.replace(settings, endpoint=endpoint.split("://")[-1])
            else:
                settings = dataclasses.replace(settings, endpoint=endpoint)
        self.settings = settings
        self._encoder = SpanEncoder()
        self._transport = _transport(settings)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._shut_down = False
        self._failing = False
        self._next_rejection_warning = 0.0

    @property
    def encoder(self) -> SpanEncoder:
        """The encoder :meth:`export` uses, for spans encoded ahead of
        :meth:`export_encoded`."""
        return self._encoder

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode and send ``spans``, retrying as described above; never raises."""
        if self._shut_down:
            return SpanExportResult.FAILURE
        try:
            body = self._encoder.encode(spans)
        except Exception:
            _log.exception("natstrace: could not encode %d spans for OTLP", len(spans))
            return SpanExportResult.FAILURE
        return self.export_encoded(body, len(spans))

    def export_encoded(self, body: bytes, count: int) -> SpanExportResult:
        """Send an ``ExportTraceServiceRequest`` of ``count`` spans, already encoded
        (:meth:`SpanEncoder.request`), as :meth:`export` sends; never raises."""
        if self._shut_down:
            return SpanExportResult.FAILURE
        with self._lock:
            attempt = self._send(body)
        if not attempt.delivered:
            self._report_failure(count, attempt)
            return SpanExportResult.FAILURE
        if self._failing:
            self._failing = False
            _log.info("natstrace: exporting spans to %s again", self._transport.endpoint)
        if attempt.rejected and monotonic() >= self._next_rejection_warning:
            self._next_rejection_warning = monotonic() + _REJECTION_LOG_INTERVAL
            _log.warning(
                "natstrace: the collector at %s rejected %d of %d spans: %s "
                "(logged at most once a minute)",
                self._transport.endpoint,
                attempt.rejected,
                count,
                attempt.detail or "no reason given",
            )
        return SpanExportResult.SUCCESS

    def _send(self, body: bytes) -> Attempt:
        deadline = monotonic() + self.settings.timeout
        attempt = Attempt(False, detail="timed out before the first attempt")
        for number in range(_MAX_ATTEMPTS):
            remaining = deadline - monotonic()
            if remaining <= 0:
                break
            attempt = self._transport.send(body, remaining)
            if attempt.delivered or not attempt.retryable or self._stopping.is_set():
                return attempt
            if attempt.reconnect and number == 0:
                self._transport.reconnect()
            backoff = attempt.retry_after
            if backoff is None:
                backoff = 2**number * random.uniform(0.8, 1.2)
            if number + 1 == _MAX_ATTEMPTS or backoff > deadline - monotonic():
                return attempt
            _log.debug(
                "natstrace: export to %s failed (%s), retrying in %.1f s",
                self._transport.endpoint,
                attempt.detail,
                backoff,
            )
            if self._stopping.wait(backoff):
                return attempt
        return attempt

    def _report_failure(self, count: int, attempt: Attempt) -> None:
        if self._failing:
            _log.debug("natstrace: %d spans not exported: %s", count, attempt.detail)
            return
        self._failing = True
        _log.warning(
            "natstrace: could not export %d spans to the OTLP collector at %s (%s). Is it "
            "running? Set OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_TRACES_EXPORTER=console to "
            "print spans instead. Further failures are logged at DEBUG until an export works.",
            count,
            self._transport.endpoint,
            attempt.detail,
        )

    def stop_retrying(self) -> None:
        """From now on, each export makes one attempt and does not wait to retry."""
        self._stopping.set()

    def shutdown(self) -> None:
        """Stop retrying and close the connection; later exports fail at once."""
        self._stopping.set()
        self._shut_down = True
        self._transport.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: the batch processor owns the queue."""
        return True
