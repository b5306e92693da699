"""Opt-in: message bodies on spans, only through your redaction function.

By default no body ever reaches a span, a log line or a metric. When seeing the
payload in a trace is worth it, add these middlewares with a function that
turns a body into what may be stored (or ``None`` for nothing); its result
becomes the ``natstrace.message.body`` attribute of the message's span::

    def redact(subject: str, body: bytes) -> str | None:
        order = json.loads(body)
        order.pop("card_number", None)
        return json.dumps(order)

    nc = natstrace.instrument(
        raw,
        publish_middleware=[partial(PublishBodyCapture, redact=redact)],
        handle_middleware=[partial(HandleBodyCapture, redact=redact)],
    )

The function runs only for spans that are recorded, its result is cut to
``max_length`` characters, and if it raises, the error is logged and nothing is
recorded: the message flows on either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opentelemetry.trace import Span

from natstrace.middleware.contract import HandleApp, IncomingMessage, OutgoingMessage, PublishApp
from natstrace.tracing.semconv import NATSTRACE_MESSAGE_BODY

__all__ = ["HandleBodyCapture", "PublishBodyCapture", "Redactor"]

Redactor = Callable[[str, bytes], str | None]
"""``(subject, body) -> text to record``, or ``None`` to record nothing."""

_log = logging.getLogger(__name__)


def _record(span: Span, redact: Redactor, subject: str, body: bytes, max_length: int) -> None:
    if not span.is_recording():
        return
    try:
        text = redact(subject, body)
    except Exception:
        _log.exception("natstrace: the body redaction function failed; no body recorded")
        return
    if text is not None:
        span.set_attribute(NATSTRACE_MESSAGE_BODY, text[:max_length])


class PublishBodyCapture:
    """Records the redacted body of a published message on its ``send`` span."""

    def __init__(self, app: PublishApp, *, redact: Redactor, max_length: int = 1024) -> None:
        self.app = app
        self.redact = redact
        self.max_length = max_length

    async def __call__(self, message: OutgoingMessage) -> object:
        _record(message.span, self.redact, message.subject, message.payload, self.max_length)
        return await self.app(message)


class HandleBodyCapture:
    """Records the redacted body of a handled message on its ``process`` span."""

    def __init__(self, app: HandleApp, *, redact: Redactor, max_length: int = 1024) -> None:
        self.app = app
        self.redact = redact
        self.max_length = max_length

    async def __call__(self, message: IncomingMessage) -> None:
        msg = message.msg
        _record(message.span, self.redact, msg.subject, msg.data, self.max_length)
        await self.app(message)
