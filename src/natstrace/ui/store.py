"""The console's data: spans from the sources, refreshed in the background.

Each refresh that finds new spans builds a new :class:`Snapshot` (the index and
the workflow list) and swaps it in whole, so a request always reads one
consistent state without locks on the hot path. The reports that cost a pass of
their own (topology, orphans, slow hops) are computed on first request and kept
with the snapshot they were computed from.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from natstrace.flow.bulk import paused_gc
from natstrace.flow.errors import FlowError
from natstrace.flow.index import SpanIndex, SpanKey, span_key
from natstrace.flow.jaeger_source import JaegerClient
from natstrace.flow.model import Span
from natstrace.flow.window import TimeWindow
from natstrace.ui.follow import FileFollower
from natstrace.ui.summaries import WorkflowSummary, summarize

__all__ = ["Snapshot", "SourceConfig", "SpanStore"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Where the console reads spans: files it follows, or a Jaeger it polls."""

    files: Sequence[Path] = ()
    jaeger_url: str | None = None
    services: Sequence[str] = ()
    lookback_ns: int = 3600 * 10**9
    """Jaeger: how far back each poll searches."""
    timeout: float = 10.0

    def describe(self) -> str:
        """``file natstrace-traces.jsonl`` or ``Jaeger http://...``, for the page header."""
        if self.jaeger_url:
            return f"Jaeger {self.jaeger_url}"
        return "file " + ", ".join(str(path) for path in self.files)


@dataclass(slots=True)
class Snapshot:
    """The spans at one moment, indexed, with the workflow list."""

    spans: list[Span]
    index: SpanIndex
    workflows: list[WorkflowSummary]
    loaded_ns: int
    """When the data was read (Unix nanoseconds)."""
    generation: int
    _reports: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, name: str, compute: Callable[[list[Span]], _T]) -> _T:
        """``compute(spans)``, once per snapshot."""
        with self._lock:
            if name not in self._reports:
                self._reports[name] = compute(self.spans)
            result: _T = self._reports[name]
            return result


def _snapshot(spans: list[Span], generation: int) -> Snapshot:
    index = SpanIndex(spans)
    return Snapshot(spans, index, summarize(index), time.time_ns(), generation)


class SpanStore:
    """Reads the source once at start, then again on every :meth:`refresh`."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self._follower = FileFollower(list(config.files)) if not config.jaeger_url else None
        self._jaeger = (
            JaegerClient(config.jaeger_url, timeout=config.timeout) if config.jaeger_url else None
        )
        self._spans: list[Span] = []
        self._keys: set[SpanKey] = set()
        self._snapshot = _snapshot([], 0)
        self.error: str | None = None
        """The last refresh's failure, shown on the page until a refresh succeeds."""
        self.skipped_lines = 0
        self.rebuild_seconds = 0.0
        """How long the last snapshot took to build."""

    @property
    def snapshot(self) -> Snapshot:
        """The latest consistent state."""
        return self._snapshot

    def refresh(self) -> bool:
        """Read what is new; returns whether the data changed. A failing source keeps
        the previous data and records the error."""
        try:
            changed = self._poll_jaeger() if self._jaeger is not None else self._poll_files()
        except FlowError as exc:
            self.error = str(exc)
            return False
        self.error = None
        if changed:
            began = time.perf_counter()
            self._snapshot = _snapshot(list(self._spans), self._snapshot.generation + 1)
            self.rebuild_seconds = time.perf_counter() - began
        return changed

    def _poll_files(self) -> bool:
        assert self._follower is not None
        found = self._follower.poll()
        self.skipped_lines += found.skipped_lines
        if found.restarted:
            self._spans, self._keys = [], set()
        added = self._add(found.spans)
        return added or found.restarted

    def _poll_jaeger(self) -> bool:
        assert self._jaeger is not None
        now = time.time_ns()
        window = TimeWindow(now - self.config.lookback_ns, None)
        found = self._jaeger.read(window, self.config.services).spans
        # Jaeger answers with everything in the window each time: take it whole, so
        # spans that left the window leave memory too.
        keys = {span_key(span) for span in found}
        if keys == self._keys:
            return False
        self._spans, self._keys = [], set()
        self._add(found)
        return True

    def _add(self, spans: list[Span]) -> bool:
        before = len(self._spans)
        with paused_gc():
            for span in spans:
                key = span_key(span)
                if key not in self._keys:
                    self._keys.add(key)
                    self._spans.append(span)
        return len(self._spans) > before

    def follow(self, stop: threading.Event, interval: float) -> None:
        """Refresh every ``interval`` seconds until ``stop`` is set (a thread's target).
        A large, fast-growing source is refreshed less often: at most a third of the
        time goes to rebuilding, so the console keeps answering."""
        while not stop.wait(max(interval, 2 * self.rebuild_seconds)):
            try:
                self.refresh()
            except Exception:  # the console must outlive one bad refresh
                _log.exception("refreshing the spans failed")
