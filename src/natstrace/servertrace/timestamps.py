"""RFC 3339 timestamps with nanoseconds, as nats-server writes them.

``datetime`` keeps microseconds only; server hops on one machine are often a
few microseconds apart, so the fraction is parsed separately to keep order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["parse_rfc3339_ns"]

_PATTERN = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)"
)


def parse_rfc3339_ns(text: str) -> int:
    """Return ``text`` as nanoseconds since the Unix epoch.

    Raises:
        ValueError: ``text`` is not an RFC 3339 timestamp.
    """
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction, zone = match.group(7) or "", match.group(8)
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    whole = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    # Integer seconds from datetime, then add the nanoseconds untouched by float math.
    seconds = int(whole.timestamp())
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0") or "0")
