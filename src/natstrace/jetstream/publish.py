"""The publish side of the instrumented JetStream context: ``publish`` and ``publish_async``.

Both run the publish chain (correlation, tracing, metrics, yours) with a nats-py
JetStream send innermost, so they set the same headers, open the same ``send``
span (PRODUCER) and record the same metrics. The span ends when the PubAck
arrives, or the publish fails, and carries stream, stream sequence and
``duplicate``; a failure carries ``error.type`` and JetStream's error code.

``publish_async`` returns as soon as nats-py has sent the message, like nats-py's
own. The chain keeps running in a task, started in a copy of the caller's
context (so the ambient span and correlation apply), until the PubAck arrives:
the task is the future the caller awaits for the PubAck, and the span and the
metrics cover the whole round trip. nats-py's futures have no timeout, so a
PubAck that never comes leaves the task (and its span) pending, as it leaves
nats-py's future pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from nats.js.api import Header, PubAck
from nats.js.errors import APIError
from opentelemetry.trace import Span

from natstrace.client.headers import copy_outgoing
from natstrace.client.payload_limit import check_max_payload
from natstrace.middleware.chain import ClientChains
from natstrace.middleware.contract import OutgoingMessage, PublishApp
from natstrace.tracing import semconv as sc

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext

__all__ = ["JetStreamPublisher"]


async def _acked(span: Span, pending: Awaitable[PubAck]) -> PubAck:
    """Await the PubAck; put it, or the JetStream error code, on the ``send`` span."""
    try:
        ack = await pending
    except APIError as exc:
        if span.is_recording() and exc.err_code:
            span.set_attribute(sc.JS_ERROR_CODE, exc.err_code)
        raise
    if span.is_recording():
        span.set_attributes(
            {
                sc.JS_STREAM: ack.stream,
                sc.JS_STREAM_SEQUENCE: ack.seq,
                sc.JS_DUPLICATE: bool(ack.duplicate),
            }
        )
    return ack


class JetStreamPublisher:
    """Traced JetStream publishes on one nats-py ``JetStreamContext``.

    Used through :class:`~natstrace.jetstream.context.InstrumentedJetStream`.
    """

    def __init__(self, js: JetStreamContext, chains: ClientChains) -> None:
        self._js = js
        self._chains = chains
        self._publish: PublishApp = chains.publish_chain(self._send)
        self._publish_async: PublishApp = chains.publish_chain(self._send_async)
        # The event loop keeps only weak references to tasks.
        self._in_flight: set[asyncio.Task[PubAck]] = set()

    def message(
        self,
        subject: str,
        payload: bytes,
        timeout: float | None,
        stream: str | None,
        headers: Mapping[str, str] | None,
        msg_ttl: float | None,
    ) -> OutgoingMessage:
        """The outgoing message, with a copy of the caller's ``headers``."""
        copied = copy_outgoing(headers)
        # What nats-py would add itself, added here so it is part of the traced message.
        if stream is not None:
            copied[Header.EXPECTED_STREAM] = stream
        if msg_ttl is not None:
            copied[Header.MSG_TTL] = str(int(msg_ttl))
        return OutgoingMessage(
            subject=subject,
            payload=payload,
            reply="",
            headers=copied,
            operation=sc.SEND,
            template=self._chains.templates.for_publish(subject),
            timeout=self._js._timeout if timeout is None else timeout,
        )

    async def publish(self, message: OutgoingMessage, chain: PublishApp | None = None) -> PubAck:
        """Publish ``message`` through ``chain`` (default: the usual one); returns the PubAck."""
        ack: PubAck = await (chain or self._publish)(message)
        return ack

    def chain(self, wrap: Callable[[PublishApp], PublishApp] | None = None) -> PublishApp:
        """A publish chain whose innermost app is ``wrap`` around the JetStream send."""
        return self._chains.publish_chain(wrap(self._send) if wrap else self._send)

    async def publish_async(
        self, message: OutgoingMessage, wait_stall: float | None
    ) -> asyncio.Future[PubAck]:
        """Send ``message``; return a future of its PubAck once nats-py has sent it.

        Raises what stopped the send (``TooManyStalledMsgsError``, an invalid ID
        header, a closed connection), as nats-py's ``publish_async`` does.
        """
        message.wait_stall = wait_stall
        handoff = message.sent = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._round_trip(message, handoff))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        try:
            sent = await handoff
        except asyncio.CancelledError:
            # Not sent yet: abandon the send, as nats-py's call would be abandoned. Once
            # sent, the task still waits for the PubAck, so the span ends at the answer.
            if not handoff.done() or handoff.cancelled():
                task.cancel()
            raise
        if not sent:
            # The task has ended: awaiting it raises why, and marks that retrieved.
            await task
        return task

    async def completed(self) -> None:
        """Wait until every ``publish_async`` made so far has its answer and its span ended."""
        while self._in_flight:
            # Only waits: a failure stays the caller's to retrieve from its future.
            await asyncio.wait(set(self._in_flight))
        await self._js.publish_async_completed()

    async def _round_trip(self, message: OutgoingMessage, handoff: asyncio.Future[bool]) -> PubAck:
        try:
            ack: PubAck = await self._publish_async(message)
            return ack
        finally:
            if not handoff.done():
                # A middleware raised (or returned) before anything was sent.
                handoff.set_result(False)

    async def _send(self, message: OutgoingMessage) -> PubAck:
        check_max_payload(message.payload, message.headers, self._chains.nc.max_payload)
        return await _acked(
            message.span,
            self._js.publish(
                message.subject, message.payload, timeout=message.timeout, headers=message.headers
            ),
        )

    async def _send_async(self, message: OutgoingMessage) -> PubAck:
        check_max_payload(message.payload, message.headers, self._chains.nc.max_payload)
        future = await self._js.publish_async(
            message.subject, message.payload, wait_stall=message.wait_stall, headers=message.headers
        )
        sent = message.sent
        if sent is not None and not sent.done():
            sent.set_result(True)
        return await _acked(message.span, future)
