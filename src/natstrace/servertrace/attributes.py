"""Attribute and span names for server hops.

Keys from the OpenTelemetry conventions come from
``opentelemetry-semantic-conventions``; what they do not cover lives under
``natstrace.server.``.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import messaging_attributes as _messaging
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.schemas import Schemas

SCHEMA_URL: Final = Schemas.V1_29_0.value
INSTRUMENTATION_NAME: Final = "natstrace.servertrace"
SERVICE_NAME: Final = "nats-server"

MESSAGING_SYSTEM: Final = _messaging.MESSAGING_SYSTEM
MESSAGING_DESTINATION_NAME: Final = _messaging.MESSAGING_DESTINATION_NAME
MESSAGING_DESTINATION_TEMPLATE: Final = _messaging.MESSAGING_DESTINATION_TEMPLATE
MESSAGING_DESTINATION_SUBSCRIPTION_NAME: Final = _messaging.MESSAGING_DESTINATION_SUBSCRIPTION_NAME
MESSAGING_CONSUMER_GROUP_NAME: Final = _messaging.MESSAGING_CONSUMER_GROUP_NAME
MESSAGING_MESSAGE_ID: Final = _messaging.MESSAGING_MESSAGE_ID
MESSAGING_MESSAGE_CONVERSATION_ID: Final = _messaging.MESSAGING_MESSAGE_CONVERSATION_ID
MESSAGING_MESSAGE_ENVELOPE_SIZE: Final = _messaging.MESSAGING_MESSAGE_ENVELOPE_SIZE
ERROR_TYPE: Final = _error.ERROR_TYPE
NATS: Final = "nats"

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
JETSTREAM_STREAM: Final = "natstrace.server.jetstream.stream"
JETSTREAM_NO_INTEREST: Final = "natstrace.server.jetstream.no_interest"

# Span and span-event names.
HOP_SPAN_PREFIX: Final = "server"
STORE_SPAN_PREFIX: Final = "store"
EGRESS_EVENT: Final = "egress"
SUBJECT_MAPPING_EVENT: Final = "subject_mapping"
STREAM_EXPORT_EVENT: Final = "stream_export"
SERVICE_IMPORT_EVENT: Final = "service_import"
