"""An HTTP server that answers like Jaeger's query API v3.

A quick stand-in for the flow tools' unit tests, speaking the API's shapes (the
``{"result": ...}`` envelope, 404 ``{"error": ...}`` when nothing matched), with
traces from a real run; the stack tests run the same tools against a real Jaeger.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


def traces_by_id(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The file's spans regrouped as one resourceSpans list per trace ID."""
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line)["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    traces[span["traceId"]].append(
                        {
                            "resource": resource_spans["resource"],
                            "scopeSpans": [{"scope": scope_spans["scope"], "spans": [span]}],
                        }
                    )
    return traces


class FakeJaeger:
    """Serves ``traces``; ``status`` forces every answer to that HTTP status."""

    def __init__(self, traces: dict[str, list[dict[str, Any]]]) -> None:
        self.traces = traces
        self.status: int | None = None
        self.requests: list[str] = []
        self.url = ""

    def _services(self, trace: list[dict[str, Any]]) -> set[str]:
        return {
            attr["value"]["stringValue"]
            for rs in trace
            for attr in rs["resource"].get("attributes", [])
            if attr["key"] == "service.name"
        }

    def answer(self, target: str) -> tuple[int, Any]:
        self.requests.append(target)
        if self.status is not None:
            return self.status, {"error": {"httpCode": self.status, "message": "storage failed"}}
        url = urlparse(target)
        query = parse_qs(url.query)
        not_found = {"error": {"httpCode": 404, "message": "No traces found"}}
        if url.path == "/api/v3/services":
            names = set().union(*(self._services(t) for t in self.traces.values()))
            return 200, {"services": sorted(names)}
        if url.path == "/api/v3/traces":
            if "query.start_time_min" not in query or "query.start_time_max" not in query:
                return 400, {"error": {"httpCode": 400, "message": "malformed parameter"}}
            service = query["query.service_name"][0]
            found = [rs for t in self.traces.values() if service in self._services(t) for rs in t]
            return (200, {"result": {"resourceSpans": found}}) if found else (404, not_found)
        if url.path.startswith("/api/v3/traces/"):
            trace = self.traces.get(url.path.rsplit("/", 1)[1])
            return (200, {"result": {"resourceSpans": trace}}) if trace else (404, not_found)
        return 404, not_found


@contextmanager
def serve(jaeger: FakeJaeger) -> Iterator[FakeJaeger]:
    """Run ``jaeger`` on a free loopback port for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = jaeger.answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    jaeger.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield jaeger
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
