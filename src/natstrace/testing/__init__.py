"""Test your own event-driven services: real nats-server, spans in memory, flow assertions.

Installed with natstrace, the pytest plugin (:mod:`natstrace.testing.plugin`)
offers the fixtures ``nats_server``/``nats_url`` (one server for the session),
``fresh_nats_server``/``fresh_nats_url`` (one per test), ``natstrace_spans``,
``natstrace_metrics`` and ``natstrace_clients``. The helpers below work with or
without it::

    async def test_order_is_billed(natstrace_clients, natstrace_spans):
        orders, billing = await natstrace_clients("orders"), await natstrace_clients("billing")
        await billing.subscribe("orders.*", cb=bill)
        await orders.publish("orders.created", b"{}")
        await natstrace_spans.wait_for("process orders.*")
        natstrace_spans.assert_all_consumed()

See docs/testing.md for a complete example.
"""

from natstrace.testing.assertions import (
    Hop,
    assert_all_consumed,
    assert_hops,
    assert_processed_by,
)
from natstrace.testing.clients import NatsClients
from natstrace.testing.flow import flow_of, render_tree
from natstrace.testing.metrics import MetricsCapture, MetricsSnapshot, assert_metric_changed
from natstrace.testing.spans import SpanCapture
from natstrace.testing.waiting import eventually, subscriptions_ready

__all__ = [
    "Hop",
    "MetricsCapture",
    "MetricsSnapshot",
    "NatsClients",
    "SpanCapture",
    "assert_all_consumed",
    "assert_hops",
    "assert_metric_changed",
    "assert_processed_by",
    "eventually",
    "flow_of",
    "render_tree",
    "subscriptions_ready",
]
