"""The metrics middleware of the publish chain: count and time every publish and request.

It sits inside the tracing middleware, so the span it takes its exemplar from is
the message's own. (A handled message is counted by its delivery:
:mod:`natstrace.middleware.delivery`.)
"""

from __future__ import annotations

from time import perf_counter

from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.contract import OutgoingMessage, PublishApp
from natstrace.tracing.semconv import error_type

__all__ = ["PublishMetrics"]


class PublishMetrics:
    """Records ``messaging_client_sent_messages_total`` and the send/request duration."""

    def __init__(self, app: PublishApp, *, metrics: NatstraceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, message: OutgoingMessage) -> object:
        failure = ""
        started = perf_counter()
        try:
            return await self.app(message)
        except BaseException as exc:
            failure = error_type(exc)
            raise
        finally:
            self.metrics.record_send(
                message.operation,
                message.template,
                failure,
                perf_counter() - started,
                message.span.get_span_context(),
            )
