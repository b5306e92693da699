"""Read spans from Jaeger's query API v3 (``/api/v3``, OTLP JSON over HTTP).

Search answers merge every matching trace into one OTLP payload; the spans are
regrouped by trace ID downstream, so that needs nothing here. Jaeger answers a
search or lookup that found nothing with HTTP 404, which is "no spans", not an
error; anything else that is not a 200 is an error with Jaeger's own message.
Every read first asks for ``/api/v3/services``, which Jaeger always answers: a
404 or a foreign answer there means the address is not Jaeger's query API, and
that is said instead of "no spans".
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any

from natstrace.flow.bulk import paused_gc
from natstrace.flow.errors import SourceError
from natstrace.flow.otlp_json import DecodeStats, decode_request
from natstrace.flow.spanset import SpanSet
from natstrace.flow.window import TimeWindow

__all__ = ["MAX_FOLLOWED_TRACES", "JaegerClient"]

MAX_FOLLOWED_TRACES = 200
"""Linked traces fetched one by one at most, per read."""


def _error_message(body: bytes) -> str:
    # Jaeger's gateway answers {"error": {"httpCode": ..., "message": ...}}; proxies
    # in front of it answer whatever they like.
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip().splitlines()[0][:200] if body else ""
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])
    return ""


class JaegerClient:
    """A small client for the parts of ``/api/v3`` the flow tools need.

    Args:
        base_url: Jaeger's query address, for example ``http://localhost:16686``.
        timeout: seconds per HTTP request.

    Raises:
        SourceError: ``base_url`` is not an http(s) address.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceError(
                f"not a Jaeger address: {base_url!r} (give its query API's URL, "
                "for example http://localhost:16686)"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any | None:
        """The decoded JSON body, or ``None`` for a 404."""
        url = f"{self.base_url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            detail = _error_message(exc.read())
            raise SourceError(
                f"Jaeger at {self.base_url} answered HTTP {exc.code} for {path}"
                + (f": {detail}" if detail else "")
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"cannot reach Jaeger at {self.base_url}: {reason}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise SourceError(
                f"Jaeger at {self.base_url} answered {path} with something that is not JSON"
            ) from None

    def services(self) -> list[str]:
        """The service names Jaeger knows.

        Raises:
            SourceError: the address does not answer like Jaeger's query API v3.
        """
        data = self._get("/api/v3/services")
        services = data.get("services", []) if isinstance(data, Mapping) else None
        if not isinstance(services, list):
            answer = "HTTP 404" if data is None else "something else"
            raise SourceError(
                f"{self.base_url} is not Jaeger's query API: /api/v3/services answered "
                f"{answer} (Jaeger v2 serves it on its query port, 16686 by default)"
            )
        return [str(name) for name in services]

    def _decode(self, data: Any, into: SpanSet) -> None:
        if data is None:
            return
        if not isinstance(data, Mapping):
            raise SourceError(f"Jaeger at {self.base_url} answered with an unexpected shape")
        stats = DecodeStats()
        with paused_gc():
            into.add(decode_request(data, stats))
        into.skipped_spans += stats.skipped_spans

    def search(self, service: str, window: TimeWindow, *, limit: int = 1000) -> SpanSet:
        """Every span of the traces of ``service`` that started within ``window``."""
        start, end = window.rfc3339()
        # snake_case names: accepted by every v2 release (camelCase only from 2.19).
        params = {
            "query.service_name": service,
            "query.start_time_min": start,
            "query.start_time_max": end,
            "query.num_traces": str(limit),
        }
        result = SpanSet()
        self._decode(self._get("/api/v3/traces", params), result)
        return result

    def trace(self, trace_id: str) -> SpanSet:
        """Every span of one trace (empty if Jaeger does not have it)."""
        result = SpanSet()
        self._decode(self._get(f"/api/v3/traces/{urllib.parse.quote(trace_id)}"), result)
        return result

    def read(
        self,
        window: TimeWindow,
        services: Iterable[str] = (),
        *,
        follow_links: bool = True,
    ) -> SpanSet:
        """Search ``services`` (default: every service Jaeger knows) in ``window``, then
        fetch the traces the found spans link to, so a workflow is complete even when
        a linked trace belongs to a service or time outside the search."""
        # Asked even when the services are given: it tells Jaeger from anything else.
        known = self.services()
        names = list(services) or known
        # Jaeger keeps receiving: the newest sends may still be waiting for consumers.
        result = SpanSet(still_written=True)
        for name in names:
            found = self.search(name, window)
            result.add(found.spans)
            result.skipped_spans += found.skipped_spans
        if follow_links:
            loaded = {span.trace_id for span in result.spans}
            wanted = {link.trace_id for span in result.spans for link in span.links} - loaded
            for trace_id in sorted(wanted)[:MAX_FOLLOWED_TRACES]:
                found = self.trace(trace_id)
                result.add(found.spans)
                result.skipped_spans += found.skipped_spans
        result.deduplicate()
        return result
