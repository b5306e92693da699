"""Spans kept in memory for one test, one tracer provider per service.

Each service gets its own provider (its resource names the service, as in
production) and all of them export to one in-memory exporter, so the whole flow
across services is in one place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from natstrace.testing import assertions
from natstrace.testing.assertions import Hop
from natstrace.testing.flow import flow_of, render_tree, service_name

__all__ = ["SpanCapture"]


class SpanCapture:
    """Finished spans of the test, and the tracer providers that record them.

    Example::

        capture = SpanCapture()
        nc = natstrace.instrument(raw, tracer_provider=capture.provider("orders"))
        await nc.publish("orders.created", b"{}")
        await capture.wait_for("send orders.created")
        capture.assert_all_consumed()
    """

    def __init__(self, service: str = "test") -> None:
        self.exporter = InMemorySpanExporter()
        self._providers: dict[str, TracerProvider] = {}
        self.tracer_provider = self.provider(service)
        """The default service's provider."""

    def provider(self, service: str) -> TracerProvider:
        """The tracer provider of ``service`` (made on first use)."""
        provider = self._providers.get(service)
        if provider is None:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            # Simple, not batch: a span is here the moment it ends.
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self._providers[service] = provider
        return provider

    @property
    def spans(self) -> list[ReadableSpan]:
        """Every span finished so far, oldest first."""
        return list(self.exporter.get_finished_spans())

    def named(self, name: str, *, service: str | None = None) -> list[ReadableSpan]:
        """The finished spans called ``name`` (of ``service``, when given)."""
        return [
            s
            for s in self.spans
            if s.name == name and (service is None or service_name(s) == service)
        ]

    def clear(self) -> None:
        """Forget the spans finished so far."""
        self.exporter.clear()

    def tree(self, correlation: str | None = None) -> str:
        """The flow (of one workflow, or all of it) as an indented tree."""
        spans = self.spans
        return render_tree(flow_of(spans, correlation) if correlation else spans)

    async def wait_for(
        self, name: str, *, service: str | None = None, count: int = 1, timeout: float = 5.0
    ) -> list[ReadableSpan]:
        """Wait until ``count`` spans called ``name`` have finished; return them.

        Raises:
            AssertionError: not in time; the message shows the flow so far.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.named(name, service=service)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                who = f" in {service!r}" if service else ""
                raise AssertionError(
                    f"waited {timeout:g}s for {count} span(s) {name!r}{who}, "
                    f"{len(found)} finished; the flow so far:\n{self.tree()}"
                )
            await asyncio.sleep(0.01)

    def assert_hops(
        self, correlation: str, hops: Sequence[str | Hop], *, exact: bool = False
    ) -> None:
        """:func:`~natstrace.testing.assert_hops` on the captured spans."""
        assertions.assert_hops(self.spans, correlation, hops, exact=exact)

    def assert_processed_by(
        self,
        service: str,
        *,
        message_id: str | None = None,
        correlation: str | None = None,
        subject: str | None = None,
    ) -> ReadableSpan:
        """:func:`~natstrace.testing.assert_processed_by` on the captured spans."""
        return assertions.assert_processed_by(
            self.spans, service, message_id=message_id, correlation=correlation, subject=subject
        )

    def assert_all_consumed(self, *, ignore: Iterable[str] = ()) -> None:
        """:func:`~natstrace.testing.assert_all_consumed` on the captured spans."""
        assertions.assert_all_consumed(self.spans, ignore=ignore)

    def shutdown(self) -> None:
        """Shut the providers down (the plugin does this after each test)."""
        for provider in self._providers.values():
            provider.shutdown()
