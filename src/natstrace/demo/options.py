"""What ``natstrace demo`` was asked to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_ORDERS", "SERVICES", "DemoOptions"]

SERVICES: Final = ("orders", "payments", "inventory", "shipping", "orchestrator")
"""The service processes, in the order their metrics ports are numbered."""

DEFAULT_ORDERS: Final = 20


@dataclass(frozen=True)
class DemoOptions:
    """The demo's settings (the ``natstrace demo`` flags)."""

    orders: int | None = None
    """Orders to place; 0 unbounded. ``None``: :data:`DEFAULT_ORDERS`, or unbounded
    when ``duration`` is given."""
    duration: float | None = None
    """Stop after this many seconds, finished or not."""
    interval: float = 0.1
    """Seconds between orders."""
    nats_url: str | None = None
    """Use this server instead of starting an embedded one."""
    trace_file: str | None = None
    """OTLP JSON lines file; default ``natstrace-traces.jsonl`` unless OTLP is configured."""
    metrics_port: int | None = None
    """First metrics port: orders on it, the other services on the next ones (in
    :data:`SERVICES` order). Default: free ports."""
    metrics_addr: str = "localhost"

    @property
    def order_limit(self) -> int:
        """Orders to place, 0 for unbounded."""
        if self.orders is not None:
            return self.orders
        return 0 if self.duration is not None else DEFAULT_ORDERS
