"""Attribute and span names for server hops.

The convention keys are the ones the client middleware uses
(:mod:`natstrace.tracing.semconv`); what the conventions do not cover lives under
``natstrace.server.``.
"""

from __future__ import annotations

from typing import Final

from natstrace.tracing.semconv import (
    ERROR_TYPE,
    JS_STREAM,
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_SUBSCRIPTION_NAME,
    MESSAGING_DESTINATION_TEMPLATE,
    MESSAGING_MESSAGE_CONVERSATION_ID,
    MESSAGING_MESSAGE_ENVELOPE_SIZE,
    MESSAGING_MESSAGE_ID,
    MESSAGING_SYSTEM,
    NATS,
    SCHEMA_URL,
)

__all__ = [
    "ERROR_TYPE",
    "MESSAGING_CONSUMER_GROUP_NAME",
    "MESSAGING_DESTINATION_NAME",
    "MESSAGING_DESTINATION_SUBSCRIPTION_NAME",
    "MESSAGING_DESTINATION_TEMPLATE",
    "MESSAGING_MESSAGE_CONVERSATION_ID",
    "MESSAGING_MESSAGE_ENVELOPE_SIZE",
    "MESSAGING_MESSAGE_ID",
    "MESSAGING_SYSTEM",
    "NATS",
    "SCHEMA_URL",
]

INSTRUMENTATION_NAME: Final = "natstrace.servertrace"
SERVICE_NAME: Final = "nats-server"

SERVER_NAME: Final = "natstrace.server.name"
SERVER_ID: Final = "natstrace.server.id"
SERVER_CLUSTER: Final = "natstrace.server.cluster"
SERVER_VERSION: Final = "natstrace.server.version"
ACCOUNT: Final = "natstrace.server.account"
HOP: Final = "natstrace.server.hop"
FORWARDED_HOPS: Final = "natstrace.server.forwarded_hops"
INGRESS_KIND: Final = "natstrace.server.ingress.kind"
INGRESS_CONNECTION_ID: Final = "natstrace.server.ingress.connection_id"
INGRESS_CONNECTION_NAME: Final = "natstrace.server.ingress.connection_name"
EGRESS_KIND: Final = "natstrace.server.egress.kind"
EGRESS_CONNECTION_ID: Final = "natstrace.server.egress.connection_id"
EGRESS_CONNECTION_NAME: Final = "natstrace.server.egress.connection_name"
EGRESS_HOP: Final = "natstrace.server.egress.hop"
DELIVERIES: Final = "natstrace.server.deliveries"
NO_INTEREST: Final = "natstrace.server.no_interest"
TRACE_COMPLETE: Final = "natstrace.server.trace_complete"
UPSTREAM_MISSING: Final = "natstrace.server.upstream_missing"
RAW_START_TIME: Final = "natstrace.server.raw_start_time_unix_nano"
CLOCK_ADJUSTMENT: Final = "natstrace.server.clock_adjustment_ns"
ERROR_MESSAGE: Final = "natstrace.server.error"
MAPPED_TO: Final = "natstrace.server.mapped_to"
IMPORT_FROM: Final = "natstrace.server.import_from"
JETSTREAM_STREAM: Final = JS_STREAM
"""The same key as on the client's JetStream spans, so one query finds both."""
JETSTREAM_NO_INTEREST: Final = "natstrace.server.jetstream.no_interest"

# Span and span-event names.
HOP_SPAN_PREFIX: Final = "server"
STORE_SPAN_PREFIX: Final = "store"
EGRESS_EVENT: Final = "egress"
SUBJECT_MAPPING_EVENT: Final = "subject_mapping"
STREAM_EXPORT_EVENT: Final = "stream_export"
SERVICE_IMPORT_EVENT: Final = "service_import"
