"""What the demo's services agree on: subjects, the stream, the message bodies.

One place for the names, so a service module reads as its behaviour only and the
supervisor's progress display listens to the same subjects the services use.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

__all__ = [
    "INVENTORY_RELEASE",
    "INVENTORY_RESERVE",
    "ORDERS_AUDIT",
    "ORDERS_CANCELLED",
    "ORDERS_COMPLETED",
    "ORDERS_CREATED",
    "PAYMENTS_AUTHORIZED",
    "PAYMENTS_DECLINED",
    "PAYMENTS_OUTCOMES",
    "SHIPMENTS_DISPATCHED",
    "SHIPMENTS_REQUESTED",
    "SHIPPING_CONSUMER",
    "SHIPPING_STREAM",
    "Order",
    "decode",
    "encode",
]

ORDERS_CREATED: Final = "orders.created"
"""orders -> payments (choreography) and orchestrator (the saga's start)."""
ORDERS_AUDIT: Final = "orders.audit"
"""orders -> nobody: the event type no service subscribes to (``natstrace orphans``)."""
PAYMENTS_AUTHORIZED: Final = "payments.authorized"
PAYMENTS_DECLINED: Final = "payments.declined"
PAYMENTS_OUTCOMES: Final = "payments.*"
"""payments -> orchestrator."""
INVENTORY_RESERVE: Final = "inventory.reserve"
"""orchestrator -> inventory, request-reply: the saga's first step."""
INVENTORY_RELEASE: Final = "inventory.release"
"""orchestrator -> inventory, request-reply: the compensation of the first step."""
SHIPMENTS_REQUESTED: Final = "shipments.requested"
"""orchestrator -> shipping, through the JetStream stream below."""
SHIPMENTS_DISPATCHED: Final = "shipments.dispatched"
"""shipping -> orchestrator: the saga's last step is done."""
ORDERS_COMPLETED: Final = "orders.completed"
ORDERS_CANCELLED: Final = "orders.cancelled"
"""orchestrator -> orders: the saga's outcome."""

SHIPPING_STREAM: Final = "DEMO_SHIPMENTS"
SHIPPING_CONSUMER: Final = "shipping"


@dataclass(frozen=True, slots=True)
class Order:
    """An order as it travels through the workflow."""

    order_id: str
    """Also the workflow's correlation ID."""
    number: int
    """1, 2, 3, ... within one run: the simulated outcomes depend on it."""
    sku: str
    quantity: int
    amount_cents: int

    def to_bytes(self) -> bytes:
        """The message body."""
        return encode(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> Order:
        """Read a body written by :meth:`to_bytes`."""
        fields = decode(data)
        return cls(
            order_id=str(fields["order_id"]),
            number=int(fields["number"]),
            sku=str(fields["sku"]),
            quantity=int(fields["quantity"]),
            amount_cents=int(fields["amount_cents"]),
        )


def encode(fields: dict[str, Any]) -> bytes:
    """A JSON body."""
    return json.dumps(fields, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Any]:
    """A JSON object body; an empty dict for anything else (a demo never crashes on input)."""
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
