"""What a span processor does with a span its full queue cannot take."""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import monotonic

__all__ = ["QueueFull"]

_log = logging.getLogger(__name__)


class QueueFull:
    """Counts the spans a full queue drops, reports each to ``on_dropped`` as
    ``("queue_full", 1)``, and warns at most once per ``log_interval`` seconds
    (a dead collector under load would otherwise flood the log)."""

    def __init__(
        self,
        max_queue_size: int,
        on_dropped: Callable[[str, int], None] | None,
        log_interval: float,
    ) -> None:
        self.dropped = 0
        self._max_queue_size = max_queue_size
        self._on_dropped = on_dropped
        self._log_interval = log_interval
        self._next_warning = 0.0

    def drop(self) -> None:
        """One span dropped."""
        self.dropped += 1
        if self._on_dropped is not None:
            self._on_dropped("queue_full", 1)
        now = monotonic()
        if now >= self._next_warning:
            self._next_warning = now + self._log_interval
            _log.warning(
                "natstrace: span export queue full (%d spans, OTEL_BSP_MAX_QUEUE_SIZE): "
                'dropping spans, counted in natstrace_spans_dropped_total{reason="queue_full"} '
                "(%d so far); the collector is down, slow or too far away",
                self._max_queue_size,
                self.dropped,
            )
