"""Prometheus instruments of the server-trace collector."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from natstrace.servertrace.parsing import INVALID_REASONS

__all__ = ["ServerTraceMetrics"]


class ServerTraceMetrics:
    """The collector's counters, registered in ``registry``.

    Labels are bounded: ``messaging_destination_name`` is a subject template,
    ``service_name`` the publishing connection's name (services name their
    connections), ``reason`` one of a fixed set.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.no_interest = Counter(
            "natstrace_server_no_interest",
            "Messages the NATS servers delivered to no subscriber and no stream.",
            ["service_name", "messaging_destination_name"],
            registry=registry,
        )
        self.invalid_events = Counter(
            "natstrace_server_trace_events_invalid",
            "Server trace events that could not be parsed and were skipped.",
            ["reason"],
            registry=registry,
        )
        self.messages = Counter(
            "natstrace_server_trace_messages",
            "Messages whose server trace events were turned into spans.",
            ["complete"],
            registry=registry,
        )
        # Pre-create the fixed label sets so rates start at zero, not absent.
        for reason in INVALID_REASONS:
            self.invalid_events.labels(reason=reason)
        for complete in ("true", "false"):
            self.messages.labels(complete=complete)
