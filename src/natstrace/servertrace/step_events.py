"""What each step inside one server becomes on the hop span.

Egresses, subject mappings, stream exports and service imports are span
events (timestamps shifted with the hop, see :mod:`.spans`); a delivery is an
egress to a client or a stream that took the message.
"""

from __future__ import annotations

from opentelemetry.sdk.trace import Event
from opentelemetry.util.types import AttributeValue

from natstrace.servertrace import attributes as attr
from natstrace.servertrace.events import (
    Egress,
    JetStreamStore,
    ServiceImport,
    StreamExport,
    SubjectMapping,
    TraceStep,
    kind_name,
)

__all__ = ["delivered", "span_event"]


def delivered(step: TraceStep) -> bool:
    """Whether a step handed the message to a consumer (a client or a stream)."""
    if isinstance(step, Egress):
        return not step.remote and step.error is None
    if isinstance(step, JetStreamStore):
        return step.error is None and not step.no_interest
    return False


def span_event(step: TraceStep, offset: int) -> Event | None:
    """The span event for ``step`` (``None`` for ingress and stores, which are spans)."""
    found: dict[str, AttributeValue]
    if isinstance(step, Egress):
        name, found = (
            attr.EGRESS_EVENT,
            {
                attr.EGRESS_KIND: kind_name(step.kind),
                attr.EGRESS_CONNECTION_ID: step.cid,
                attr.EGRESS_CONNECTION_NAME: step.name,
            },
        )
        optional = (
            (attr.MESSAGING_DESTINATION_SUBSCRIPTION_NAME, step.subscription),
            (attr.MESSAGING_CONSUMER_GROUP_NAME, step.queue),
            (attr.EGRESS_HOP, step.hop),
            (attr.ACCOUNT, step.account),
            (attr.ERROR_MESSAGE, step.error or ""),
        )
        found.update({key: value for key, value in optional if value})
    elif isinstance(step, SubjectMapping):
        name, found = attr.SUBJECT_MAPPING_EVENT, {attr.MAPPED_TO: step.to}
    elif isinstance(step, StreamExport):
        name, found = (
            attr.STREAM_EXPORT_EVENT,
            {attr.ACCOUNT: step.account, attr.MAPPED_TO: step.to},
        )
    elif isinstance(step, ServiceImport):
        name, found = (
            attr.SERVICE_IMPORT_EVENT,
            {
                attr.ACCOUNT: step.account,
                attr.IMPORT_FROM: step.from_subject,
                attr.MAPPED_TO: step.to,
            },
        )
    else:
        return None
    return Event(name, found, timestamp=step.ts_ns + offset)
