"""Instrumented nats-py clients for tests, one per service, cleaned up afterwards."""

from __future__ import annotations

from typing import Any

import nats
from nats.aio.client import Client

from natstrace.client.instrument import instrument
from natstrace.client.instrumented import InstrumentedClient
from natstrace.testing.metrics import MetricsCapture
from natstrace.testing.spans import SpanCapture

__all__ = ["NatsClients"]


class NatsClients:
    """Connects instrumented clients to ``url``: spans go to ``spans``, metrics to a
    fresh registry per service.

    Example::

        clients = NatsClients(server.url, SpanCapture())
        orders = await clients("orders")
        billing = await clients("billing", consumer_span_policy="link")
        clients.metrics("billing").assert_changed("messaging_client_consumed_messages_total", by=1)
        await clients.close()
    """

    def __init__(self, url: str, spans: SpanCapture) -> None:
        self.url = url
        self.spans = spans
        self._metrics: dict[str, MetricsCapture] = {}
        self._raw: list[Client] = []

    async def __call__(
        self, service: str = "test", *, connect: dict[str, Any] | None = None, **options: Any
    ) -> InstrumentedClient:
        """Connect a client for ``service``, instrumented with ``options`` (the keyword
        arguments of :func:`natstrace.instrument`); ``connect`` goes to ``nats.connect``.
        Clients of the same service share its tracer provider and metrics."""
        raw = await nats.connect(self.url, **(connect or {}))
        self._raw.append(raw)
        return instrument(
            raw,
            tracer_provider=self.spans.provider(service),
            metrics=self.metrics(service).metrics,
            **options,
        )

    def metrics(self, service: str = "test") -> MetricsCapture:
        """The metrics of ``service``'s clients."""
        capture = self._metrics.get(service)
        if capture is None:
            capture = self._metrics[service] = MetricsCapture(service)
        return capture

    async def close(self) -> None:
        """Close every client (without draining: a test's leftovers are not waited for)."""
        for raw in self._raw:
            if not raw.is_closed:
                await raw.close()
        self._raw.clear()
