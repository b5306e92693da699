"""Server hops in the trace, from nats-server's own message tracing.

nats-server (2.11+) publishes one trace event per server to a trace
destination for every traced message. This package turns them into spans in
the publisher's trace::

    from natstrace.servertrace import ServerTraceCollector, trace_headers

    collector = ServerTraceCollector(nc, "natstrace.servertrace", exporter, registry=registry)
    await collector.start()
    await nc.publish("orders.created", body, headers=trace_headers("natstrace.servertrace"))
    ...
    await collector.stop()

Modules: :mod:`.enable` (headers that turn tracing on), :mod:`.parsing` and
:mod:`.events` (untrusted JSON to typed events), :mod:`.assembler` (group per
message, completeness, timeouts), :mod:`.spans` (deterministic spans),
:mod:`.collector` (the NATS subscriber), :mod:`.service` and :mod:`.cli` (the
``natstrace server-trace`` process). See ``docs/server-trace.md``.
"""

from natstrace.servertrace.assembler import AssembledMessage, TraceAssembler
from natstrace.servertrace.collector import CollectorStats, ServerTraceCollector
from natstrace.servertrace.enable import trace_headers
from natstrace.servertrace.events import TraceEvent
from natstrace.servertrace.metrics import ServerTraceMetrics
from natstrace.servertrace.parsing import InvalidTraceEventError, parse_trace_event
from natstrace.servertrace.spans import MessageSpans, build_spans
from natstrace.servertrace.subjects import default_subject_template

__all__ = [
    "AssembledMessage",
    "CollectorStats",
    "InvalidTraceEventError",
    "MessageSpans",
    "ServerTraceCollector",
    "ServerTraceMetrics",
    "TraceAssembler",
    "TraceEvent",
    "build_spans",
    "default_subject_template",
    "parse_trace_event",
    "trace_headers",
]
