"""What a transport reports about one attempt to send an encoded export request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Attempt", "Transport"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of sending one request once."""

    delivered: bool
    """The collector accepted the request (perhaps only in part: ``rejected``)."""
    retryable: bool = False
    """Sending the same request again later may succeed (UNAVAILABLE, 503, refused)."""
    retry_after: float | None = None
    """Seconds the collector asked to wait before the next attempt."""
    detail: str = ""
    """What went wrong, for the log."""
    rejected: int = 0
    """Spans a partially successful request did not store."""
    reconnect: bool = False
    """The connection itself may be stale: open a new one before retrying."""


class Transport(Protocol):
    """Sends serialized ``ExportTraceServiceRequest`` bytes to one collector."""

    endpoint: str

    def send(self, body: bytes, timeout: float) -> Attempt:
        """Send ``body`` once, waiting at most ``timeout`` seconds; never raises."""
        ...

    def reconnect(self) -> None:
        """Drop the connection; the next :meth:`send` opens a new one."""
        ...

    def close(self) -> None:
        """Release the connection for good."""
        ...
