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
"""

from __future__ import annotations

from collections.abc import Callable

from natstrace.tracing import semconv as sc
from natstrace.tracing.semconv import span_name

__all__ = ["ServerAddress", "SpanShapes", "add_server_attributes"]

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


class SpanShapes:
    """Span name and shared attributes per (operation, template, group), rebuilt
    when the client reconnects to another server."""

    def __init__(self, server: ServerAddress) -> None:
        self._server = server
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
