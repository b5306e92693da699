"""OTLP/gRPC: encoded requests sent as they are, through a channel method whose
request serializer is the identity."""

from __future__ import annotations

from pathlib import Path

import grpc  # type: ignore[import-untyped]
from google.rpc.error_details_pb2 import RetryInfo  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from natstrace.tracing.export.otlp_settings import OtlpSettings
from natstrace.tracing.export.transport import Attempt

__all__ = ["GrpcTransport"]

_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_USER_AGENT = "natstrace OTLP exporter"
# The codes the stock exporter retries.
_RETRYABLE = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


class GrpcTransport:
    """One gRPC channel to the collector at ``settings.endpoint``."""

    def __init__(self, settings: OtlpSettings) -> None:
        self.endpoint = settings.endpoint
        self._metadata = settings.headers
        self._compression = (
            grpc.Compression.Gzip
            if settings.compression == "gzip"
            else grpc.Compression.NoCompression
        )
        self._credentials = None
        if not settings.insecure:
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(settings.certificate),
                private_key=_read(settings.client_key),
                certificate_chain=_read(settings.client_certificate),
            )
        self._channel: grpc.Channel | None = None
        self._export: grpc.UnaryUnaryMultiCallable | None = None

    def _method(self) -> grpc.UnaryUnaryMultiCallable:
        if self._export is None:
            options = [("grpc.primary_user_agent", _USER_AGENT)]
            if self._credentials is None:
                self._channel = grpc.insecure_channel(
                    self.endpoint, options=options, compression=self._compression
                )
            else:
                self._channel = grpc.secure_channel(
                    self.endpoint, self._credentials, options=options, compression=self._compression
                )
            # No request serializer: the request is already protobuf bytes.
            self._export = self._channel.unary_unary(
                _EXPORT, response_deserializer=ExportTraceServiceResponse.FromString
            )
        return self._export

    def send(self, body: bytes, timeout: float) -> Attempt:
        try:
            response = self._method()(body, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as error:
            return _failed(error)
        except Exception as error:  # a broken channel must not escape into the worker
            return Attempt(False, detail=f"{type(error).__name__}: {error}")
        partial = response.partial_success
        return Attempt(True, rejected=partial.rejected_spans, detail=partial.error_message)

    def reconnect(self) -> None:
        # A fresh channel starts connecting at once instead of after the old one's
        # reconnect backoff.
        self.close()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._export = None


def _failed(error: grpc.RpcError) -> Attempt:
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    retry_after = None
    if isinstance(error, grpc.Call):
        for key, value in error.trailing_metadata() or ():
            if key == "google.rpc.retryinfo-bin" and isinstance(value, bytes):
                delay = RetryInfo.FromString(value).retry_delay
                retry_after = delay.seconds + delay.nanos / 1e9
    return Attempt(
        False,
        retryable=code in _RETRYABLE,
        retry_after=retry_after,
        detail=f"{code.name}: {details}",
        reconnect=code is grpc.StatusCode.UNAVAILABLE,
    )
