"""Metrics middlewares: count and time every publish, request and handled message.

They sit inside the tracing middlewares, so the span they take their exemplar
from is the message's own.
"""

from __future__ import annotations

from time import perf_counter

from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.types import HandleApp, IncomingMessage, OutgoingMessage, PublishApp
from natstrace.tracing.semconv import error_type

__all__ = ["HandleMetrics", "PublishMetrics"]


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
        except GeneratorExit:
            # A parked chain being closed (see parking.py): not a failure of the message.
            raise
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


class HandleMetrics:
    """Records consumed messages, process duration, in-flight handling and
    dropped invalid headers."""

    def __init__(self, app: HandleApp, *, metrics: NatstraceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, message: IncomingMessage) -> None:
        metrics = self.metrics
        if message.invalid_headers:
            metrics.count_invalid_headers(message.invalid_headers)
        in_flight = metrics.in_flight_gauge(message.template, message.queue)
        in_flight.inc()
        failure = ""
        started = perf_counter()
        try:
            await self.app(message)
        except GeneratorExit:
            # A parked chain being closed (see parking.py): not a failure of the message.
            raise
        except BaseException as exc:
            failure = error_type(exc)
            raise
        finally:
            in_flight.dec()
            metrics.record_process(
                message.template,
                message.queue,
                failure,
                perf_counter() - started,
                message.span.get_span_context(),
            )
