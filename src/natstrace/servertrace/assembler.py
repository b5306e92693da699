"""Group trace events by message and decide when a message's path is complete.

There is no end marker in the server's protocol: a message is complete when
the origin server's event is in and every route, gateway or leaf egress of
every event has the downstream server's event (that server reports the
egress's ``hop`` as its ``Nats-Trace-Hop``). Otherwise the group is released
after ``timeout`` seconds, incomplete.

Memory is bounded: at most ``max_pending`` open groups (the oldest is released
early when a new one arrives) and ``max_events`` events per group; finished keys
are remembered (bounded too) so that a duplicate arriving after its group was
released is dropped instead of exported again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from natstrace.servertrace.events import TraceEvent
from natstrace.servertrace.identity import message_key

__all__ = ["AssembledMessage", "AssemblerStats", "TraceAssembler"]

# (server id, hop) identifies one server's report within one message.
Slot = tuple[str, str]


@dataclass(frozen=True, slots=True)
class AssembledMessage:
    """The events of one message, ready to become spans.

    ``events`` is sorted by hop, then server. ``known_hops`` maps every hop seen
    for this message so far, including earlier releases (a straggler arriving
    after a timeout still finds its upstream), to ``(server id, server seq)``.
    """

    key: str
    events: tuple[TraceEvent, ...]
    complete: bool
    known_hops: Mapping[str, tuple[str, int]]


@dataclass(slots=True)
class AssemblerStats:
    """Counters about grouping (all monotonic)."""

    events: int = 0
    duplicates: int = 0
    conflicts: int = 0
    late: int = 0
    overflow: int = 0
    completed: int = 0
    timed_out: int = 0
    evicted: int = 0


@dataclass(slots=True)
class _Group:
    first_seen: float
    events: dict[Slot, TraceEvent] = field(default_factory=dict)


def _hop_order(event: TraceEvent) -> tuple[int, str, str]:
    return (event.hop.count(".") + bool(event.hop), event.hop, event.server.id)


def is_complete(events: Mapping[Slot, TraceEvent]) -> bool:
    """Whether the origin and every forwarded-to server have reported."""
    hops = {hop for _, hop in events}
    if "" not in hops:
        return False
    return all(
        egress.hop in hops
        for event in events.values()
        for egress in event.egresses
        if egress.remote and egress.error is None
    )


class TraceAssembler:
    """Collects trace events and releases them grouped per message.

    ``add`` returns the messages that just became complete; ``expire`` those
    that waited longer than ``timeout``; ``flush`` everything still open.
    """

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        max_pending: int = 10_000,
        max_events: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0 or max_pending < 1 or max_events < 1:
            raise ValueError("timeout, max_pending and max_events must be positive")
        self.timeout = timeout
        self.max_pending = max_pending
        self.max_events = max_events
        self._clock = clock
        self._pending: OrderedDict[str, _Group] = OrderedDict()
        self._finished: OrderedDict[str, dict[Slot, int]] = OrderedDict()
        self.stats = AssemblerStats()

    @property
    def pending(self) -> int:
        """How many messages are waiting for more events."""
        return len(self._pending)

    def add(self, event: TraceEvent) -> list[AssembledMessage]:
        """Take one event; return the messages released by it (usually zero or one)."""
        self.stats.events += 1
        key, slot = message_key(event), (event.server.id, event.hop)
        released: list[AssembledMessage] = []
        group = self._pending.get(key)
        if group is not None and slot in group.events:
            if group.events[slot].server.seq == event.server.seq:
                self.stats.duplicates += 1
                return released
            # Same key, same server and hop, another report: a different message
            # that shares the key. Release the first rather than mix the two.
            self.stats.conflicts += 1
            released.append(self._release(key, complete=is_complete(group.events)))
            group = None
        if group is None:
            seen = self._finished.get(key, {})
            if slot in seen:
                if seen[slot] == event.server.seq:
                    self.stats.duplicates += 1
                    return released
                self.stats.conflicts += 1
            elif seen:
                self.stats.late += 1
            released.extend(self._make_room())
            group = self._pending[key] = _Group(first_seen=self._clock())
        if len(group.events) >= self.max_events:
            self.stats.overflow += 1
            return released
        group.events[slot] = event
        if is_complete(group.events):
            self.stats.completed += 1
            released.append(self._release(key, complete=True))
        return released

    def expire(self) -> list[AssembledMessage]:
        """Release the messages that have waited longer than ``timeout``."""
        deadline = self._clock() - self.timeout
        expired = [key for key, group in self._pending.items() if group.first_seen <= deadline]
        self.stats.timed_out += len(expired)
        return [self._release(key, complete=False) for key in expired]

    def flush(self) -> list[AssembledMessage]:
        """Release every open message (at shutdown)."""
        keys = list(self._pending)
        return [self._release(key, complete=is_complete(self._pending[key].events)) for key in keys]

    def _make_room(self) -> list[AssembledMessage]:
        released = []
        while len(self._pending) >= self.max_pending:
            key = next(iter(self._pending))
            self.stats.evicted += 1
            released.append(self._release(key, complete=is_complete(self._pending[key].events)))
        return released

    def _release(self, key: str, *, complete: bool) -> AssembledMessage:
        group = self._pending.pop(key)
        seen = self._finished.pop(key, {})
        # A colliding message overwrites the slots it shares: the newest report
        # is the one later duplicates will repeat.
        seen.update({slot: event.server.seq for slot, event in group.events.items()})
        self._finished[key] = seen
        while len(self._finished) > self.max_pending:
            self._finished.popitem(last=False)
        known = {hop: (server_id, seq) for (server_id, hop), seq in sorted(seen.items())}
        for (server_id, hop), event in group.events.items():
            known[hop] = (server_id, event.server.seq)
        events = tuple(sorted(group.events.values(), key=_hop_order))
        return AssembledMessage(key=key, events=events, complete=complete, known_hops=known)
