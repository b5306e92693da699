"""The supervisor's view of the run: counts of what the services did, and the display.

The supervisor listens on the workflow's outcome subjects with a plain,
uninstrumented nats-py connection: it observes the demo, it is not part of it,
so it adds no spans. It never listens to ``orders.audit``, which must stay
unconsumed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from natstrace.demo import contract

__all__ = ["Counts", "ProgressDisplay", "Tally"]


@dataclass
class Counts:
    """What happened so far."""

    placed: int = 0
    authorized: int = 0
    declined: int = 0
    shipped: int = 0
    redeliveries: int = 0
    completed: int = 0
    cancelled: int = 0
    first_compensated: str | None = None
    """An order whose saga compensated: the workflow the report shows."""
    first_redelivered: str | None = None
    """An order whose shipment was redelivered."""

    @property
    def finished(self) -> int:
        """Sagas that ended, either way."""
        return self.completed + self.cancelled

    def summary(self) -> str:
        """One line for the display."""
        return (
            f"placed {self.placed}  authorized {self.authorized}  "
            f"declined {self.declined} (compensated {self.cancelled})  "
            f"shipped {self.shipped} (redeliveries {self.redeliveries})"
        )


class Tally:
    """Counts the workflow's events on a connection of its own."""

    def __init__(self) -> None:
        self.counts = Counts()
        self.changed = asyncio.Event()
        self._nc: Client | None = None

    async def start(self, url: str) -> None:
        """Connect and subscribe (before the first order is placed)."""
        self._nc = await nats.connect(url, name="demo-supervisor")
        for subject in (
            contract.ORDERS_CREATED,
            contract.PAYMENTS_AUTHORIZED,
            contract.PAYMENTS_DECLINED,
            contract.SHIPMENTS_DISPATCHED,
            contract.ORDERS_COMPLETED,
            contract.ORDERS_CANCELLED,
        ):
            await self._nc.subscribe(subject, cb=self._count)
        await self._nc.flush()

    async def _count(self, msg: Msg) -> None:
        counts = self.counts
        fields = contract.decode(msg.data)
        order_id = str(fields.get("order_id", ""))
        if msg.subject == contract.ORDERS_CREATED:
            counts.placed += 1
        elif msg.subject == contract.PAYMENTS_AUTHORIZED:
            counts.authorized += 1
        elif msg.subject == contract.PAYMENTS_DECLINED:
            counts.declined += 1
        elif msg.subject == contract.SHIPMENTS_DISPATCHED:
            counts.shipped += 1
            attempts = int(fields.get("attempts", 1))
            counts.redeliveries += attempts - 1
            if attempts > 1 and counts.first_redelivered is None:
                counts.first_redelivered = order_id
        elif msg.subject == contract.ORDERS_COMPLETED:
            counts.completed += 1
        elif msg.subject == contract.ORDERS_CANCELLED:
            counts.cancelled += 1
            if counts.first_compensated is None:
                counts.first_compensated = order_id
        self.changed.set()

    async def close(self) -> None:
        """Disconnect."""
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()


class ProgressDisplay:
    """A rich progress bar of finished sagas, with the counts beside it."""

    def __init__(self, console: Console, total: int | None) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]orders"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[summary]}"),
            console=console,
        )
        self._task: TaskID = self._progress.add_task("orders", total=total, summary="")

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, counts: Counts) -> None:
        """Show ``counts``."""
        self._progress.update(self._task, completed=counts.finished, summary=counts.summary())
