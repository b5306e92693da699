"""The transactional outbox, traced: capture headers when the event is written,
publish them later from a relay.

An application that changes its state and publishes an event cannot do both
atomically (the "dual write"). The outbox pattern stores the event in the
application's own database, in the same transaction as the state change; a
relay publishes stored events later and marks them sent. If the relay crashes
between publishing and marking, it publishes again on restart; JetStream drops
the second copy because both carry the same ``Nats-Msg-Id``.

natstrace's part: :func:`capture` takes the contract headers at the moment
the event is written (inside the span doing the write, with its correlation):
trace context, ``Nats-Msg-Id``, ``Correlation-Id`` and ``Causation-Id``. Store
them with the row. :func:`relay` publishes the row with those headers:

- the relay's ``send`` span lives in the relay's own trace and *links* to the
  span that wrote the event (the relay is not part of that request; a relay
  batch publishing hundreds of events must not graft itself onto each);
- the message carries the writer's trace context, so the consumer's ``process``
  span continues the original trace, as if the writer had published directly;
- the captured IDs are kept, so a re-publish is de-duplicated and the
  workflow's correlation is unbroken.

Example::

    from natstrace.jetstream import outbox

    # in the request handler, in the same transaction as the state change
    headers = outbox.capture()
    db.execute("INSERT INTO outbox (subject, payload, headers) VALUES (?, ?, ?)",
               ("orders.created", body, json.dumps(headers)))

    # in the relay
    for row_id, subject, payload, headers in db.execute("SELECT ... WHERE sent = 0"):
        await outbox.relay(js, subject, payload, json.loads(headers))
        db.execute("UPDATE outbox SET sent = 1 WHERE id = ?", (row_id,))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from opentelemetry import trace

from natstrace.client.headers import (
    BAGGAGE,
    TRACEPARENT,
    TRACESTATE,
    copy_outgoing,
    read_incoming,
)
from natstrace.jetstream.context import InstrumentedJetStream
from natstrace.middleware.contract import OutgoingMessage, PublishApp
from natstrace.middleware.correlation import stamp_ids
from natstrace.tracing import propagation

if TYPE_CHECKING:
    from nats.js.api import PubAck

__all__ = ["capture", "relay"]

_TRACE_HEADERS = (TRACEPARENT, TRACESTATE, BAGGAGE)
_chains: WeakKeyDictionary[InstrumentedJetStream, PublishApp] = WeakKeyDictionary()


def capture(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers to store with an outbox event, taken from the running code's context.

    Call it where the event is written: the current span's trace context and the
    current correlation are captured, the IDs derived as for a publish made here.
    Values in ``headers`` are kept (a ``Nats-Msg-Id`` you already have, say, the
    event's primary key); their names are matched case-insensitively.

    Raises:
        InvalidIdError: an ID header in ``headers`` has characters outside the ID set.

    Example::

        headers = outbox.capture({"Nats-Msg-Id": f"order-{order.id}"})
    """
    captured = copy_outgoing(headers)
    stamp_ids(captured)
    propagation.inject(captured)
    return captured


async def relay(
    js: InstrumentedJetStream,
    subject: str,
    payload: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float | None = None,
) -> PubAck:
    """Publish an outbox event with the headers :func:`capture` returned.

    The ``send`` span is a span of the relay's current context (a new trace if
    there is none) linked to the span that wrote the event; the message keeps the
    writer's trace context and IDs. Returns JetStream's PubAck: ``duplicate`` is
    true when the event had been published before.
    """
    chain = _chains.get(js)
    if chain is None:
        chain = _chains[js] = js.publish_chain(_KeepCaptured)
    message = js.outgoing(subject, payload, headers, timeout)
    # What was stored is read like headers from the wire: valid values only, any spelling.
    message.carried_trace = read_incoming(headers).trace
    return await js.publish_message(message, chain)


class _KeepCaptured:
    """Innermost publish app of the relay: link the send span to the writer's span and
    put the writer's trace context back in place of the send span's."""

    def __init__(self, app: PublishApp) -> None:
        self.app = app

    async def __call__(self, message: OutgoingMessage) -> object:
        captured = message.carried_trace
        if captured:
            writer = trace.get_current_span(propagation.extract(captured)).get_span_context()
            if writer.is_valid and message.span.is_recording():
                message.span.add_link(writer)
            headers = message.headers
            for name in _TRACE_HEADERS:
                if name in captured:
                    headers[name] = captured[name]
                else:
                    headers.pop(name, None)
        return await self.app(message)
