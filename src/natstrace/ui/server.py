"""The console's HTTP server: the standard library's threading server, nothing more.

It answers its own routes only (the page, its three static files, the JSON
views), 404 to anything else and 405 to anything but GET and HEAD. It binds to
loopback unless told otherwise, and then also refuses requests whose ``Host`` is
not a loopback name, so a web page elsewhere cannot reach it through DNS
rebinding. Every answer forbids framing and loading anything from elsewhere.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from natstrace.flow.errors import NoSpansError
from natstrace.ui import api
from natstrace.ui.store import SpanStore

__all__ = ["UiServer", "is_loopback"]

_log = logging.getLogger(__name__)

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def _load_static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("natstrace.ui") / "static"
    return {route: ((folder / name).read_bytes(), kind) for route, (name, kind) in _STATIC.items()}


class UiServer:
    """``natstrace ui``: serves the console for ``store`` on ``host``:``port``.

    Raises:
        ValueError: ``host`` is not a loopback address and ``allow_remote`` is not set.
        OSError: the port cannot be bound.
    """

    def __init__(
        self,
        store: SpanStore,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_remote: bool = False,
        refresh_seconds: float = 2.0,
    ) -> None:
        local = is_loopback(host)
        if not local and not allow_remote:
            raise ValueError(
                f"refusing to serve on {host!r}: the console shows your traces to anyone "
                "who can reach it; bind to 127.0.0.1, or pass --allow-remote to mean it"
            )
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        server_class = type("_Server", (ThreadingHTTPServer,), {"address_family": family})
        handler = type(
            "_BoundHandler",
            (_ConsoleHandler,),
            {"console": self, "static": _load_static(), "check_host": local},
        )
        try:
            self.httpd: ThreadingHTTPServer = server_class((host, port), handler)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        """Where the console answers."""
        host, port = self.httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def start(self) -> None:
        """Serve, and follow the source, from background threads."""
        for target in (self.httpd.serve_forever, self._follow):
            thread = threading.Thread(target=target, name="natstrace-ui", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _follow(self) -> None:
        self.store.follow(self._stop, self.refresh_seconds)

    def close(self) -> None:
        """Stop serving and following; waits for both threads."""
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> UiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ConsoleHandler(BaseHTTPRequestHandler):
    console: UiServer
    static: dict[str, tuple[bytes, str]]
    check_host: bool
    server_version = "natstrace-ui"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        self._send(status, body, "application/json")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json({"error": message}, status)

    def _host_allowed(self) -> bool:
        if not self.check_host:
            return True
        host = (self.headers.get("Host") or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in _LOOPBACK_NAMES

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._error(HTTPStatus.FORBIDDEN, "this console answers on localhost only")
            return
        parts = urlsplit(self.path)
        static = self.static.get(parts.path)
        if static is not None:
            self._send(HTTPStatus.OK, *static)
            return
        route = _ROUTES.get(parts.path)
        if route is None:
            self._error(HTTPStatus.NOT_FOUND, "no such page")
            return
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            self._json(route(self.console.store, query))
        except NoSpansError as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))

    do_HEAD = do_GET

    def _not_allowed(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "read-only: GET and HEAD only")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


def _limit(query: dict[str, str], default: int) -> int:
    text = query.get("limit", str(default))
    if not text.isdigit() or not 0 < int(text) <= 10_000:
        raise ValueError("limit must be a whole number from 1 to 10000")
    return int(text)


_ROUTES: dict[str, Callable[[SpanStore, dict[str, str]], Any]] = {
    "/api/status": lambda store, query: api.status_view(store),
    "/api/workflows": lambda store, query: api.workflows_view(
        store.snapshot, query.get("q", ""), _limit(query, 200)
    ),
    "/api/workflow": lambda store, query: api.workflow_view(store.snapshot, query.get("id", "")),
    "/api/topology": lambda store, query: api.topology_view(store.snapshot),
    "/api/orphans": lambda store, query: api.orphans_view(store.snapshot),
    "/api/slow": lambda store, query: api.slow_view(store.snapshot),
}
