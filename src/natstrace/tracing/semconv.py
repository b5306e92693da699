"""Names from the OpenTelemetry messaging semantic conventions, and natstrace's own.

Attribute keys come from ``opentelemetry-semantic-conventions``; anything the
conventions do not cover lives under the single ``natstrace.`` namespace.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import messaging_attributes as _messaging
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import server_attributes as _server
from opentelemetry.semconv.schemas import Schemas

SCHEMA_URL: Final = Schemas.V1_29_0.value
INSTRUMENTATION_NAME: Final = "natstrace"

MESSAGING_SYSTEM: Final = _messaging.MESSAGING_SYSTEM
MESSAGING_OPERATION_NAME: Final = _messaging.MESSAGING_OPERATION_NAME
MESSAGING_OPERATION_TYPE: Final = _messaging.MESSAGING_OPERATION_TYPE
MESSAGING_DESTINATION_NAME: Final = _messaging.MESSAGING_DESTINATION_NAME
MESSAGING_DESTINATION_TEMPLATE: Final = _messaging.MESSAGING_DESTINATION_TEMPLATE
MESSAGING_DESTINATION_TEMPORARY: Final = _messaging.MESSAGING_DESTINATION_TEMPORARY
MESSAGING_DESTINATION_SUBSCRIPTION_NAME: Final = _messaging.MESSAGING_DESTINATION_SUBSCRIPTION_NAME
MESSAGING_CONSUMER_GROUP_NAME: Final = _messaging.MESSAGING_CONSUMER_GROUP_NAME
MESSAGING_MESSAGE_ID: Final = _messaging.MESSAGING_MESSAGE_ID
MESSAGING_MESSAGE_CONVERSATION_ID: Final = _messaging.MESSAGING_MESSAGE_CONVERSATION_ID
MESSAGING_MESSAGE_BODY_SIZE: Final = _messaging.MESSAGING_MESSAGE_BODY_SIZE
MESSAGING_MESSAGE_ENVELOPE_SIZE: Final = _messaging.MESSAGING_MESSAGE_ENVELOPE_SIZE
MESSAGING_BATCH_MESSAGE_COUNT: Final = _messaging.MESSAGING_BATCH_MESSAGE_COUNT
SERVER_ADDRESS: Final = _server.SERVER_ADDRESS
SERVER_PORT: Final = _server.SERVER_PORT
ERROR_TYPE: Final = _error.ERROR_TYPE

NATS: Final = "nats"

# natstrace's namespace for what the conventions do not name.
NATSTRACE_CAUSATION_ID: Final = "natstrace.causation_id"
NATSTRACE_MESSAGE_BODY: Final = "natstrace.message.body"
NATSTRACE_REPLY_TO_TEMPLATE: Final = "natstrace.reply_to.template"

# JetStream: what the conventions have no generic name for.
JS_STREAM: Final = "natstrace.jetstream.stream"
JS_CONSUMER: Final = "natstrace.jetstream.consumer"
JS_STREAM_SEQUENCE: Final = "natstrace.jetstream.stream_sequence"
JS_CONSUMER_SEQUENCE: Final = "natstrace.jetstream.consumer_sequence"
JS_DELIVERY_COUNT: Final = "natstrace.jetstream.delivery_count"
JS_PENDING: Final = "natstrace.jetstream.pending"
JS_DUPLICATE: Final = "natstrace.jetstream.duplicate"
JS_ERROR_CODE: Final = "natstrace.jetstream.error_code"
JS_BATCH_SIZE: Final = "natstrace.jetstream.batch_size"
JS_OUTCOME: Final = "natstrace.jetstream.outcome"
JS_NAK_DELAY: Final = "natstrace.jetstream.nak_delay"
JS_SYNC: Final = "natstrace.jetstream.sync"

# Key-value watch updates: the bucket and key stay out of span names (keys are unbounded).
KV_BUCKET: Final = "natstrace.kv.bucket"
KV_KEY: Final = "natstrace.kv.key"
KV_OPERATION: Final = "natstrace.kv.operation"
KV_PUT: Final = "PUT"
"""``natstrace.kv.operation`` of a value update (nats-py reports it as no operation)."""

# Settlement outcomes (span events, the ``outcome`` metric label).
ACK: Final = "ack"
NAK: Final = "nak"
TERM: Final = "term"
IN_PROGRESS: Final = "in_progress"

# Operation names (messaging.operation.name) and their types (messaging.operation.type).
SEND: Final = "send"
REQUEST: Final = "request"
PROCESS: Final = "process"
RECEIVE: Final = "receive"
SETTLE: Final = "settle"

OPERATION_TYPES: Final[dict[str, str]] = {
    SEND: "send",
    REQUEST: "send",
    PROCESS: "process",
    RECEIVE: "receive",
    SETTLE: "settle",
}


def span_name(operation: str, template: str) -> str:
    """The span name for ``operation`` on a destination template: ``"send orders.*"``."""
    return f"{operation} {template}"


def error_type(exc: BaseException) -> str:
    """A low-cardinality ``error.type``: the exception's class name, never its message."""
    return type(exc).__qualname__
