"""Every attribute, event and resource key the flow tools read, in one place.

The keys the middleware writes come from :mod:`natstrace.tracing.semconv`, so a
rename there reaches the tools too.
"""

from __future__ import annotations

from typing import Final

from natstrace.tracing import semconv as sc

__all__ = [
    "CAUSATION_ID",
    "CONVERSATION_ID",
    "DELIVERY_COUNT",
    "DESTINATION_NAME",
    "DESTINATION_TEMPLATE",
    "ERROR_TYPE",
    "EXCEPTION_EVENT",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_TYPE",
    "IGNORED_TEMPLATE_PREFIXES",
    "MESSAGE_ID",
    "OPERATION_NAME",
    "OPERATION_TYPE",
    "SERVICE_NAME",
    "SETTLEMENT",
    "SETTLEMENT_NAMES",
    "SETTLE_OPERATION_TYPE",
]

SERVICE_NAME: Final = "service.name"

OPERATION_NAME: Final = sc.MESSAGING_OPERATION_NAME
OPERATION_TYPE: Final = sc.MESSAGING_OPERATION_TYPE
DESTINATION_NAME: Final = sc.MESSAGING_DESTINATION_NAME
DESTINATION_TEMPLATE: Final = sc.MESSAGING_DESTINATION_TEMPLATE
MESSAGE_ID: Final = sc.MESSAGING_MESSAGE_ID
CONVERSATION_ID: Final = sc.MESSAGING_MESSAGE_CONVERSATION_ID
CAUSATION_ID: Final = sc.NATSTRACE_CAUSATION_ID
ERROR_TYPE: Final = sc.ERROR_TYPE

DELIVERY_COUNT: Final = sc.JS_DELIVERY_COUNT
"""How often JetStream delivered the message; absent (read as 1) for core NATS."""

SETTLEMENT: Final = sc.JS_OUTCOME
"""The outcome (``ack``, ``nak``, ``term``, ``in_progress``) on a ``settle`` span."""

SETTLE_OPERATION_TYPE: Final = sc.OPERATION_TYPES[sc.SETTLE]
"""``messaging.operation.type`` of a settlement span; its operation name is the outcome."""

SETTLEMENT_NAMES: Final = frozenset({sc.ACK, sc.NAK, sc.TERM, sc.IN_PROGRESS})
"""Event names on a process span that record a settlement."""

EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"

IGNORED_TEMPLATE_PREFIXES: Final = ("_INBOX", "$JS.")
"""Sends that are never *processed* by a traced handler: replies land in the
requester's inbox (nats-py's own subscription) and JetStream API calls go to the
server, so neither counts as an orphan."""
