"""Time windows, and the ``--since``/``--until`` spellings that make them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["TimeWindow", "parse_instant"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


def parse_instant(text: str, now_ns: int | None = None) -> int:
    """Unix nanoseconds from ``now``, a duration ago (``90s``, ``15m``, ``2h``, ``1d``)
    or an RFC 3339 / ISO 8601 time (UTC when it names no zone).

    Raises:
        ValueError: with a message naming the accepted forms.
    """
    now = time.time_ns() if now_ns is None else now_ns
    text = text.strip()
    if text == "now":
        return now
    match = _DURATION.fullmatch(text)
    if match:
        return now - int(float(match.group(1)) * _UNIT_NS[match.group(2)])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use 'now', a duration ago like 15m or 2h, or an RFC 3339 time)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open range of span start times ``[start_ns, end_ns)``; ``None``: unbounded."""

    start_ns: int | None = None
    end_ns: int | None = None

    def contains(self, time_ns: int) -> bool:
        """Whether ``time_ns`` falls inside the window."""
        if self.start_ns is not None and time_ns < self.start_ns:
            return False
        return self.end_ns is None or time_ns < self.end_ns

    @property
    def bounded(self) -> bool:
        """Both ends are set."""
        return self.start_ns is not None and self.end_ns is not None

    @classmethod
    def parse(cls, since: str | None, until: str | None, now_ns: int | None = None) -> TimeWindow:
        """A window from the CLI's ``--since`` and ``--until`` texts."""
        now = time.time_ns() if now_ns is None else now_ns
        start = parse_instant(since, now) if since else None
        end = parse_instant(until, now) if until else None
        if start is not None and end is not None and start >= end:
            raise ValueError(f"empty time window: --since {since} is not before --until {until}")
        return cls(start, end)

    def rfc3339(self, default_span_ns: int = 3600 * 10**9) -> tuple[str, str]:
        """Both ends as RFC 3339 text, as Jaeger's search wants; an open end becomes
        now, an open start ``default_span_ns`` before the end."""
        end = self.end_ns if self.end_ns is not None else time.time_ns()
        start = self.start_ns if self.start_ns is not None else end - default_span_ns
        return _rfc3339(start), _rfc3339(end)


def _rfc3339(time_ns: int) -> str:
    seconds, nanos = divmod(time_ns, 10**9)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"
