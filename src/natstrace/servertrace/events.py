"""Typed view of one nats-server message-trace event.

A trace event is what one server publishes to the trace destination for one
message: who the server is, the message's headers, and the steps it took
(ingress, subject mapping, stream export, service import, JetStream store,
egress). :mod:`natstrace.servertrace.parsing` builds these from the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

__all__ = [
    "REMOTE_KINDS",
    "TRACE_HOP_HEADER",
    "ConnectionKind",
    "Egress",
    "Ingress",
    "JetStreamStore",
    "ServerInfo",
    "ServiceImport",
    "StreamExport",
    "SubjectMapping",
    "TraceEvent",
    "TraceStep",
    "kind_name",
]

TRACE_HOP_HEADER: Final = "Nats-Trace-Hop"


class ConnectionKind(IntEnum):
    """The server's connection kinds, as numbered in trace events."""

    CLIENT = 0
    ROUTER = 1
    GATEWAY = 2
    SYSTEM = 3
    LEAF = 4
    JETSTREAM = 5
    ACCOUNT = 6


REMOTE_KINDS: Final = frozenset(
    {ConnectionKind.ROUTER, ConnectionKind.GATEWAY, ConnectionKind.LEAF}
)


def kind_name(kind: int) -> str:
    """A lower-case name for a connection kind (``"unknown"`` for future values)."""
    try:
        return ConnectionKind(kind).name.lower()
    except ValueError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """The server that reported the event."""

    id: str
    name: str
    host: str
    cluster: str | None
    version: str
    seq: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class Ingress:
    """How the message entered the server."""

    ts_ns: int
    kind: int
    cid: int
    name: str
    account: str
    subject: str
    error: str | None


@dataclass(frozen=True, slots=True)
class SubjectMapping:
    """A subject mapping rewrote the subject to ``to``."""

    ts_ns: int
    to: str


@dataclass(frozen=True, slots=True)
class StreamExport:
    """The message crossed a stream export into ``account``."""

    ts_ns: int
    account: str
    to: str


@dataclass(frozen=True, slots=True)
class ServiceImport:
    """The message crossed a service import into ``account``."""

    ts_ns: int
    account: str
    from_subject: str
    to: str


@dataclass(frozen=True, slots=True)
class JetStreamStore:
    """A stream took (or refused) the message."""

    ts_ns: int
    stream: str
    subject: str
    no_interest: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class Egress:
    """The message left the server on one connection.

    ``hop`` is set for routes, gateways and leaf nodes (the downstream server
    reports it as its ``Nats-Trace-Hop``); ``subscription`` and ``queue`` only
    for clients.
    """

    ts_ns: int
    kind: int
    cid: int
    name: str
    hop: str
    account: str
    subscription: str
    queue: str
    error: str | None

    @property
    def remote(self) -> bool:
        """Whether another server receives this message and reports its own event."""
        return self.kind in REMOTE_KINDS


TraceStep = Ingress | SubjectMapping | StreamExport | ServiceImport | JetStreamStore | Egress


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One server's report about one message."""

    server: ServerInfo
    headers: Mapping[str, tuple[str, ...]]
    msg_size: int
    hops: int
    steps: tuple[TraceStep, ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        lowered = name.lower()
        for key, values in self.headers.items():
            if key.lower() == lowered and values:
                return values[0]
        return None

    @property
    def hop(self) -> str:
        """This server's position in the path: ``""`` for the origin, else ``"1"``, ``"1.2"``."""
        return self.header(TRACE_HOP_HEADER) or ""

    @property
    def ingress(self) -> Ingress:
        """The ingress step (validation guarantees there is exactly one, first)."""
        first = self.steps[0]
        assert isinstance(first, Ingress)
        return first

    @property
    def egresses(self) -> tuple[Egress, ...]:
        """The egress steps, in server order."""
        return tuple(step for step in self.steps if isinstance(step, Egress))
