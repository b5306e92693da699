"""Turn one message's trace events into OpenTelemetry spans.

One span per server hop (resource ``service.name=nats-server``), parented on
the publisher's ``send`` span (from the ``traceparent`` the server saw) for the
origin server and on the upstream server's hop span for a forwarded copy. A
JetStream store is a child span; every egress, subject mapping, stream export
and service import is a span event.

Clock skew: servers and clients do not share a clock. A downstream server's
timeline is shifted so that its ingress is never earlier than the upstream
egress that forwarded the message (shifts add up along the path); the span
keeps the server's own reading in ``natstrace.server.raw_start_time_unix_nano``
and the shift in ``natstrace.server.clock_adjustment_ns``. The publisher's
``send`` span is exported by another process, so the origin hop is not
shifted: its start is the origin server's clock, as reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes.service_attributes import SERVICE_INSTANCE_ID
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME, SERVICE_VERSION
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from natstrace.servertrace import attributes as attr
from natstrace.servertrace.assembler import AssembledMessage
from natstrace.servertrace.events import Egress, Ingress, JetStreamStore, TraceEvent, kind_name
from natstrace.servertrace.identity import parse_traceparent, span_id_for, trace_id_for
from natstrace.servertrace.step_events import delivered, span_event
from natstrace.servertrace.subjects import SubjectTemplate, default_subject_template

__all__ = ["MessageSpans", "build_spans"]

_SCOPE = InstrumentationScope(attr.INSTRUMENTATION_NAME, schema_url=attr.SCHEMA_URL)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_MAX_HEADER_ATTRIBUTE = 256


@dataclass(frozen=True, slots=True)
class MessageSpans:
    """The spans for one message, and what the collector counts about it."""

    spans: tuple[ReadableSpan, ...]
    no_interest: bool
    destination: str
    publisher: str


def build_spans(
    message: AssembledMessage, subject_template: SubjectTemplate = default_subject_template
) -> MessageSpans:
    """Build the spans of ``message`` (same events in, identical spans out)."""
    parent = parse_traceparent(message.events[0].header("traceparent"))
    trace_id = parent.trace_id if parent else trace_id_for(message.key)
    root = SpanContext(trace_id, parent.span_id, True, _SAMPLED) if parent else None
    span_ids = {
        hop: span_id_for(message.key, server_id, hop, seq)
        for hop, (server_id, seq) in message.known_hops.items()
    }
    by_hop: dict[str, TraceEvent] = {}
    for event in message.events:
        by_hop.setdefault(event.hop, event)
    origin = by_hop.get("")
    deliveries = sum(delivered(step) for event in message.events for step in event.steps)
    ingress_ok = origin is not None and origin.ingress.error is None
    no_interest = message.complete and ingress_ok and deliveries == 0
    offsets: dict[str, int] = {}
    spans: list[ReadableSpan] = []
    for event in message.events:
        hop = event.hop
        span_id = span_id_for(message.key, event.server.id, hop, event.server.seq)
        extra: dict[str, AttributeValue] = {attr.TRACE_COMPLETE: message.complete}
        upstream_hop = hop.rpartition(".")[0]
        if not hop:
            parent_ctx = root
            extra[attr.NO_INTEREST] = no_interest
        elif upstream_hop in span_ids:
            parent_ctx = SpanContext(trace_id, span_ids[upstream_hop], False, _SAMPLED)
        else:
            parent_ctx = root
            extra[attr.UPSTREAM_MISSING] = True
        offset = _offset(event, by_hop.get(upstream_hop) if hop else None, offsets)
        offsets.setdefault(hop, offset)
        if offset:
            extra[attr.RAW_START_TIME] = event.ingress.ts_ns
            extra[attr.CLOCK_ADJUSTMENT] = offset
        context = SpanContext(trace_id, span_id, False, _SAMPLED)
        spans.append(_hop_span(event, context, parent_ctx, offset, extra, subject_template))
        stores = (step for step in event.steps if isinstance(step, JetStreamStore))
        for index, store in enumerate(stores):
            store_id = span_id_for(
                message.key, event.server.id, hop, event.server.seq, "js", str(index)
            )
            store_ctx = SpanContext(trace_id, store_id, False, _SAMPLED)
            spans.append(_store_span(event, store, store_ctx, context, offset))
    origin_ingress = origin.ingress if origin else message.events[0].ingress
    publisher = origin_ingress.name if origin and origin_ingress.kind == 0 else ""
    return MessageSpans(
        spans=tuple(spans),
        no_interest=no_interest,
        destination=subject_template(origin_ingress.subject),
        publisher=publisher or "unknown",
    )


def _offset(event: TraceEvent, upstream: TraceEvent | None, offsets: dict[str, int]) -> int:
    if upstream is None:
        return 0
    forwarded = next((e for e in upstream.egresses if e.hop == event.hop), None)
    if forwarded is None:
        return 0
    forwarded_at = forwarded.ts_ns + offsets.get(upstream.hop, 0)
    return max(0, forwarded_at - event.ingress.ts_ns)


def _resource(event: TraceEvent) -> Resource:
    # Not Resource.create(): OTEL_RESOURCE_ATTRIBUTES describes the collector's
    # own process, not the server that did the work.
    return Resource(
        {
            SERVICE_NAME: attr.SERVICE_NAME,
            SERVICE_INSTANCE_ID: event.server.id,
            SERVICE_VERSION: event.server.version,
        }
    )


def _server_attributes(event: TraceEvent) -> dict[str, AttributeValue]:
    found: dict[str, AttributeValue] = {
        attr.MESSAGING_SYSTEM: attr.NATS,
        attr.SERVER_NAME: event.server.name,
        attr.SERVER_ID: event.server.id,
    }
    if event.server.cluster:
        found[attr.SERVER_CLUSTER] = event.server.cluster
    return found


def _hop_span(
    event: TraceEvent,
    context: SpanContext,
    parent: SpanContext | None,
    offset: int,
    extra: dict[str, AttributeValue],
    subject_template: SubjectTemplate,
) -> ReadableSpan:
    ingress = event.ingress
    template = subject_template(ingress.subject)
    found = _server_attributes(event)
    found.update(
        {
            attr.SERVER_VERSION: event.server.version,
            attr.MESSAGING_DESTINATION_NAME: ingress.subject,
            attr.MESSAGING_DESTINATION_TEMPLATE: template,
            attr.MESSAGING_MESSAGE_ENVELOPE_SIZE: event.msg_size,
            attr.ACCOUNT: ingress.account,
            attr.FORWARDED_HOPS: event.hops,
            attr.INGRESS_KIND: kind_name(ingress.kind),
            attr.INGRESS_CONNECTION_ID: ingress.cid,
            attr.INGRESS_CONNECTION_NAME: ingress.name,
            attr.DELIVERIES: sum(delivered(step) for step in event.steps),
        }
    )
    if event.hop:
        found[attr.HOP] = event.hop
    for header, key in (
        ("Nats-Msg-Id", attr.MESSAGING_MESSAGE_ID),
        ("Correlation-Id", attr.MESSAGING_MESSAGE_CONVERSATION_ID),
    ):
        value = event.header(header)
        if value and len(value) <= _MAX_HEADER_ATTRIBUTE:
            found[key] = value
    found.update(extra)
    status = Status(StatusCode.UNSET)
    failed = [s for s in event.steps if isinstance(s, Ingress | Egress) and s.error]
    if failed:
        first = failed[0]
        found[attr.ERROR_TYPE] = (
            "ingress_rejected" if isinstance(first, Ingress) else "egress_failed"
        )
        found[attr.ERROR_MESSAGE] = first.error or ""
        status = Status(StatusCode.ERROR, first.error)
    steps = event.steps
    end = max([event.server.time_ns, *(step.ts_ns for step in steps)])
    return ReadableSpan(
        name=f"{attr.HOP_SPAN_PREFIX} {template}",
        context=context,
        parent=parent,
        resource=_resource(event),
        attributes=found,
        events=[e for e in (span_event(step, offset) for step in steps) if e is not None],
        kind=SpanKind.SERVER,
        status=status,
        start_time=ingress.ts_ns + offset,
        end_time=end + offset,
        instrumentation_scope=_SCOPE,
    )


def _store_span(
    event: TraceEvent,
    store: JetStreamStore,
    context: SpanContext,
    parent: SpanContext,
    offset: int,
) -> ReadableSpan:
    # The server stamps the store when the stream has taken the message and
    # publishes its report right after, so the span runs between the two.
    found = _server_attributes(event)
    found.update(
        {
            attr.MESSAGING_DESTINATION_NAME: store.subject or event.ingress.subject,
            attr.JETSTREAM_STREAM: store.stream,
            attr.JETSTREAM_NO_INTEREST: store.no_interest,
        }
    )
    status = Status(StatusCode.UNSET)
    if store.error:
        found[attr.ERROR_TYPE] = "store_failed"
        found[attr.ERROR_MESSAGE] = store.error
        status = Status(StatusCode.ERROR, store.error)
    return ReadableSpan(
        name=f"{attr.STORE_SPAN_PREFIX} {store.stream}",
        context=context,
        parent=parent,
        resource=_resource(event),
        attributes=found,
        kind=SpanKind.INTERNAL,
        status=status,
        start_time=store.ts_ns + offset,
        end_time=max(store.ts_ns, event.server.time_ns) + offset,
        instrumentation_scope=_SCOPE,
    )
