"""The simulated world: which orders are declined, which shipments fail at first.

Deterministic functions of the order number rather than random draws, so that
every run, even a short one, shows each path: about a quarter of the payments
are declined (the saga compensates), and about a third of the shipments fail
transiently once or twice (JetStream redelivers them).
"""

from __future__ import annotations

from typing import Final

__all__ = ["SKUS", "amount_cents", "is_declined", "sku_for", "transient_failures"]

SKUS: Final = ("book", "lamp", "mug", "kettle", "chair")


def is_declined(number: int) -> bool:
    """Whether the card of order ``number`` is declined: orders 3, 7, 11, ..."""
    return number % 4 == 3


def transient_failures(number: int) -> int:
    """How many deliveries of order ``number``'s shipment fail before one succeeds.

    Orders 1, 7, 13, ... fail twice, 4, 10, 16, ... once (7 is declined, so it
    never reaches shipping).
    """
    if number % 6 == 1:
        return 2
    return 1 if number % 3 == 1 else 0


def sku_for(number: int) -> str:
    """A product for order ``number``."""
    return SKUS[number % len(SKUS)]


def amount_cents(number: int) -> int:
    """A plausible price for order ``number``."""
    return 500 + (number * 737) % 9500
