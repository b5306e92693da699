"""Serve a registry over HTTP for Prometheus: ``/metrics`` only, OpenMetrics when asked.

Prometheus asks for OpenMetrics (the format that carries exemplars) in its
``Accept`` header; plain text goes to everyone else.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = ["MetricsServer", "start_http_server"]


class _MetricsHandler(BaseHTTPRequestHandler):
    registry: CollectorRegistry = REGISTRY
    # A client that opens a connection and sends nothing must not hold a thread forever.
    timeout = 10

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404, "only /metrics is served here")
            return
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        body = encoder(self.registry)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Scrapes every few seconds would flood stderr.
        pass


class MetricsServer:
    """A running metrics endpoint; :meth:`shutdown` stops it."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port (the port is the real one when 0 was asked for)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The metrics URL."""
        host, port = self.address
        return f"http://{host}:{port}/metrics"

    def shutdown(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def start_http_server(
    port: int = 9464, addr: str = "localhost", registry: CollectorRegistry = REGISTRY
) -> MetricsServer:
    """Serve ``registry`` at ``http://addr:port/metrics`` from a daemon thread.

    The default binds to ``localhost`` only; pass ``addr="0.0.0.0"`` for Prometheus
    on another host or container. ``port=0`` picks a free port (see
    :attr:`MetricsServer.address`).

    Raises:
        OSError: the address cannot be bound (a busy port); the message names it.

    Example::

        server = natstrace.metrics.start_http_server(9464)
    """
    handler = type("MetricsHandler", (_MetricsHandler,), {"registry": registry})
    try:
        server = ThreadingHTTPServer((addr, port), handler)
    except OSError as exc:
        # The bare error ("Address already in use") names neither the port nor the knob.
        raise OSError(
            exc.errno,
            f"cannot serve metrics on {addr}:{port}: {exc.strerror or exc} "
            "(choose another port: metrics_port= or OTEL_EXPORTER_PROMETHEUS_PORT)",
        ) from exc
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="natstrace-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread)
