"""A real OTLP trace receiver for the tests: gRPC and HTTP/protobuf on free ports.

Built from opentelemetry-proto's generated service, so what the tests assert on
is what crossed the wire, decoded exactly as a Collector would decode it.
"""

from __future__ import annotations

import gzip
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived, with its resource's service name."""

    service_name: str
    span: Span
    transport: str

    @property
    def name(self) -> str:
        return self.span.name

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.span.parent_span_id.hex()

    @property
    def attributes(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for kv in self.span.attributes:
            kind = kv.value.WhichOneof("value")
            values[kv.key] = getattr(kv.value, kind) if kind else None
        return values

    @property
    def links(self) -> list[tuple[str, str]]:
        return [(link.trace_id.hex(), link.span_id.hex()) for link in self.span.links]


@dataclass(frozen=True)
class ReceivedRequest:
    """One export request as it arrived, with its gRPC metadata or HTTP headers."""

    transport: str
    request: trace_service_pb2.ExportTraceServiceRequest
    headers: dict[str, str]


@dataclass
class Faults:
    """How the receiver misbehaves: the next ``failures`` requests fail (gRPC
    ``grpc_code``, HTTP ``http_status``, with a retry delay when ``retry_after`` is
    set); accepted requests report ``rejected`` spans as a partial success."""

    failures: int = 0
    grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    http_status: int = 503
    retry_after: float | None = None
    rejected: int = 0
    attempts: int = 0

    def next_failure(self) -> bool:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            return True
        return False

    def response(self) -> trace_service_pb2.ExportTraceServiceResponse:
        response = trace_service_pb2.ExportTraceServiceResponse()
        if self.rejected:
            response.partial_success.rejected_spans = self.rejected
            response.partial_success.error_message = "over quota"
        return response


class OtlpReceiver:
    """Collects every exported span; ``grpc_endpoint`` and ``http_endpoint`` to export to."""

    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self.requests: list[ReceivedRequest] = []
        self.faults = Faults()
        self._lock = threading.Lock()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_GrpcService(self), self._grpc)
        # Port 0: the kernel picks a free port as it binds, so no other process can
        # take it between picking and binding.
        self.grpc_port: int = self._grpc.add_insecure_port("127.0.0.1:0")
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(self))
        self.http_port: int = self._http.server_address[1]
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def endpoint(self, protocol: str) -> str:
        """The traces endpoint for an exporter of ``protocol`` (``grpc`` or ``http/protobuf``)."""
        if protocol == "grpc":
            return self.grpc_endpoint
        return f"{self.http_endpoint}/v1/traces"

    def start(self) -> OtlpReceiver:
        self._grpc.start()
        self._http_thread.start()
        return self

    def stop(self) -> None:
        self._grpc.stop(grace=None)
        self._http.shutdown()
        self._http.server_close()

    def add(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        transport: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            self.requests.append(ReceivedRequest(transport, request, headers or {}))
        received = []
        for resource_spans in request.resource_spans:
            service = next(
                (
                    kv.value.string_value
                    for kv in resource_spans.resource.attributes
                    if kv.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                received.extend(
                    ReceivedSpan(service, span, transport) for span in scope_spans.spans
                )
        with self._lock:
            self._spans.extend(received)

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()
            self.requests.clear()
            self.faults = Faults()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedSpan]:
        """Wait until at least ``count`` spans arrived; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = self.spans
            if len(spans) >= count:
                return spans
            time.sleep(0.02)
        raise AssertionError(f"expected {count} spans, received {len(self.spans)}")


class _GrpcService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request, context):
        faults = self._receiver.faults
        if faults.next_failure():
            if faults.retry_after is not None:
                info = RetryInfo()
                info.retry_delay.FromNanoseconds(int(faults.retry_after * 1e9))
                context.set_trailing_metadata(
                    (("google.rpc.retryinfo-bin", info.SerializeToString()),)
                )
            context.abort(faults.grpc_code, "receiver told to fail")
        self._receiver.add(request, "grpc", dict(context.invocation_metadata()))
        return faults.response()


def _http_handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            faults = receiver.faults
            if faults.next_failure():
                self.send_response(faults.http_status)
                if faults.retry_after is not None:
                    self.send_header("Retry-After", str(faults.retry_after))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            receiver.add(request, "http", {k.lower(): v for k, v in self.headers.items()})
            reply = faults.response().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
