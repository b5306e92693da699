"""The one builder of span names and attributes: send, request, process, receive, settle.

Every span natstrace starts gets its name and attributes here, so the span
contract cannot drift between operations:

- the name is ``{operation} {template}``: the subject template, bounded;
- ``messaging.destination.template`` is the template,
  ``messaging.destination.name`` the concrete subject (a ``receive`` has none:
  a fetch returns messages of several subjects, each named on its ``process``);
- ``messaging.system``, the operation's name and type, the queue group or
  consumer, ``server.address`` and ``server.port`` are shared by every span of
  one operation on one template and built once (templates are bounded), then
  copied and completed per span.

Attributes are given at span start: one allocation, and the sampler sees them.
Unless the tracer's sampler is one of OpenTelemetry's standard ones, which decide
without looking at attributes: then :meth:`SpanShapes.drops` tells, before any
attribute is built, that a span will not be recorded, and it starts bare. A
custom sampler (one that may read attributes) always gets them.

:meth:`SpanShapes.starter` starts the spans: a
:class:`~natstrace.tracing.sdk_span.SpanStarter`, which skips the SDK's re-checking
of these attributes whenever the span comes out the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Tracer

from natstrace.tracing import semconv as sc
from natstrace.tracing.sdk_span import SpanStarter, reads_no_attributes
from natstrace.tracing.semconv import span_name
from natstrace.tracing.tracer import installed_tracer, is_stand_in

__all__ = ["MessageIds", "ServerAddress", "SpanShapes", "add_server_attributes"]


class MessageIds(Protocol):
    """A message's identity as its span records it (outgoing or incoming)."""

    @property
    def message_id(self) -> str | None: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def causation_id(self) -> str | None: ...


ServerAddress = Callable[[], tuple[str | None, int | None]]
"""Returns the host and port of the server the client is connected to right now."""


def add_server_attributes(
    attributes: dict[str, object], server: tuple[str | None, int | None]
) -> None:
    """Add ``server.address`` and ``server.port`` (from ``ServerAddress()``), when known."""
    host, port = server
    if host:
        attributes[sc.SERVER_ADDRESS] = host
    if port:
        attributes[sc.SERVER_PORT] = port


_PARENT_BASED: Final = "ParentBased{root:"
# ParentBased's delegates when only its root sampler was chosen: follow the parent.
_FOLLOW_PARENT: Final = (
    ",remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,"
    "localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"
)
_ALWAYS_OFF: Final = "AlwaysOffSampler"

_NEVER: Final = 0
"""The sampler drops every span."""
_FOLLOW_ROOT_OFF: Final = 1
"""Parent-based, drops roots: a span records exactly when its parent was sampled."""
_FOLLOW: Final = 2
"""Parent-based, roots decided by another sampler: a child of an unsampled parent drops."""
_UNKNOWN: Final = 3
"""Anything else: attributes are always built."""


def _sampling_rule(tracer: Tracer) -> int:
    # Recognised by their descriptions: public, and exact for the SDK's own samplers,
    # once a subclass deciding its own way (which may read attributes) is ruled out.
    sampler = getattr(tracer, "sampler", None)
    if sampler is None or not reads_no_attributes(sampler):
        return _UNKNOWN
    description = sampler.get_description()
    if description == _ALWAYS_OFF:
        return _NEVER
    if description.startswith(_PARENT_BASED) and description.endswith(_FOLLOW_PARENT):
        root = description[len(_PARENT_BASED) : -len(_FOLLOW_PARENT)]
        return _FOLLOW_ROOT_OFF if root == _ALWAYS_OFF else _FOLLOW
    return _UNKNOWN


class SpanShapes:
    """Span name and shared attributes per (operation, template, group), rebuilt
    when the client reconnects to another server."""

    def __init__(self, server: ServerAddress) -> None:
        self._server = server
        self._rule: tuple[Tracer, int] | None = None
        # Keyed by the tracer given, which may be a stand-in for the one spans start on.
        self._starter: tuple[Tracer, SpanStarter] | None = None
        self._shapes: dict[
            tuple[str, str, str, str],
            tuple[tuple[str | None, int | None], str, dict[str, object]],
        ] = {}

    def get(
        self, operation: str, template: str, group: str = "", label: str = ""
    ) -> tuple[str, dict[str, object]]:
        """The span name, and a fresh copy of the shared attributes to complete.

        ``group``: the queue group or consumer name; ``label``: what the span name
        uses instead of ``template`` (a ``receive`` is named after stream/consumer).
        """
        server = self._server()
        key = (operation, template, group, label)
        shape = self._shapes.get(key)
        if shape is None or shape[0] is not server:
            attributes: dict[str, object] = {
                sc.MESSAGING_SYSTEM: sc.NATS,
                sc.MESSAGING_OPERATION_NAME: operation,
                sc.MESSAGING_OPERATION_TYPE: sc.OPERATION_TYPES[operation],
                sc.MESSAGING_DESTINATION_TEMPLATE: template,
            }
            if group:
                attributes[sc.MESSAGING_CONSUMER_GROUP_NAME] = group
            add_server_attributes(attributes, server)
            shape = (server, span_name(operation, label or template), attributes)
            self._shapes[key] = shape
        return shape[1], dict(shape[2])

    def for_message(
        self,
        operation: str,
        template: str,
        group: str,
        subject: str,
        body_size: int,
        ids: MessageIds,
    ) -> tuple[str, dict[str, object]]:
        """:meth:`get`, completed for one message (send, request, process): its
        subject, body size, message ID, correlation as conversation ID, and the
        causation ID when it has one."""
        name, attributes = self.get(operation, template, group)
        attributes[sc.MESSAGING_DESTINATION_NAME] = subject
        attributes[sc.MESSAGING_MESSAGE_BODY_SIZE] = body_size
        attributes[sc.MESSAGING_MESSAGE_ID] = ids.message_id
        attributes[sc.MESSAGING_MESSAGE_CONVERSATION_ID] = ids.correlation_id
        if ids.causation_id:
            attributes[sc.NATSTRACE_CAUSATION_ID] = ids.causation_id
        return name, attributes

    def drops(self, tracer: Tracer, context: Context | None = None) -> bool:
        """Whether a span ``tracer`` starts in ``context`` (``None``: the current one;
        its span is the parent) is certain not to be recorded."""
        rule = self._rule
        if rule is None or rule[0] is not tracer:
            real = installed_tracer(tracer)
            rule = (tracer, _sampling_rule(real))
            if not is_stand_in(real):
                self._rule = rule
        kind = rule[1]
        if kind == _UNKNOWN:
            return False
        if kind == _NEVER:
            return True
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            return not parent.trace_flags.sampled
        return kind == _FOLLOW_ROOT_OFF

    def name(self, operation: str, template: str, label: str = "") -> str:
        """The span name alone, for a span that starts bare."""
        return span_name(operation, label or template)

    def starter(self, tracer: Tracer) -> SpanStarter:
        """What starts ``tracer``'s spans with the attributes from :meth:`get` (a
        stand-in's on the tracer of the provider installed since, when there is one)."""
        cached = self._starter
        if cached is not None and cached[0] is tracer:
            return cached[1]
        real = installed_tracer(tracer)
        starter = SpanStarter(real)
        if not is_stand_in(real):
            self._starter = (tracer, starter)
        return starter
