"""The messaging overview: every service's traffic, latency, errors, JetStream and
telemetry health on one page."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from panels import (
    CONSUMED,
    CONSUMER,
    DELIVERY_LATENCY,
    FAILED,
    OPERATION_DURATION,
    PROCESS_DURATION,
    SENT,
    SERVICES,
    base,
    jaeger_url_variable,
    label_variable,
    latency_panel,
    query,
    rate,
    stat_panel,
    timeseries_panel,
    traces_of_series,
)


def overview() -> dashboard.Dashboard:
    svc = 'service_name=~"$service"'
    process = f'{svc}, messaging_operation_name="process"'
    return (
        base(
            "natstrace / Messaging overview",
            "natstrace-overview",
            "Traffic, latency, errors and JetStream health of every NATS service "
            "instrumented with natstrace.",
        )
        .with_variable(jaeger_url_variable())
        .with_variable(label_variable("service", "Service", SERVICES, True))
        .with_row(dashboard.Row("Traffic"))
        .with_panel(
            stat_panel(
                "Messages sent",
                "Publishes and requests per second.",
                f"sum({rate(SENT, svc)})",
                "ops",
            )
        )
        .with_panel(
            stat_panel(
                "Messages processed",
                "Messages handed to handlers per second.",
                f"sum({rate(CONSUMED, process)})",
                "ops",
            )
        )
        .with_panel(
            stat_panel(
                "Worst consumer error ratio (5m)",
                "The highest share of failed handlings among all consumers.",
                f"max(service_destination:messaging_consume_error_ratio:rate5m{{{svc}}})",
                "percentunit",
            )
        )
        .with_panel(
            stat_panel(
                "Worst p99 processing time (5m)",
                "The slowest consumer's 99th percentile handling time.",
                f"max(service_destination:messaging_process_duration_seconds:p99_5m{{{svc}}})",
                "s",
            )
        )
        .with_panel(
            timeseries_panel(
                "Sent per subject template",
                "Publishes (send) and requests per service and subject template.",
                "ops",
                [
                    query(
                        "sum by (service_name, messaging_operation_name, "
                        f"messaging_destination_name) ({rate(SENT, svc)})",
                        "{{service_name}} {{messaging_operation_name}} "
                        "{{messaging_destination_name}}",
                        exemplar=True,
                    )
                ],
                data_links=traces_of_series(),
            )
        )
        .with_panel(
            timeseries_panel(
                "Processed per subject template",
                "Handled messages per service, subject template and queue group.",
                "ops",
                [
                    query(
                        "sum by (service_name, messaging_destination_name, "
                        f"messaging_consumer_group_name) ({rate(CONSUMED, process)})",
                        "{{service_name}} {{messaging_destination_name}} "
                        "{{messaging_consumer_group_name}}",
                        exemplar=True,
                    )
                ],
                data_links=traces_of_series("process"),
            )
        )
        .with_row(dashboard.Row("Latency"))
        .with_panel(
            latency_panel(
                "Processing time",
                "How long handlers take. Exemplar dots open the trace.",
                PROCESS_DURATION,
                svc,
            )
        )
        .with_panel(
            latency_panel(
                "Delivery latency (JetStream store to processing)",
                "How long a message waits in the stream before a handler starts on it.",
                DELIVERY_LATENCY,
                svc,
                quantiles=(0.5, 0.99),
            )
        )
        .with_panel(
            latency_panel(
                "Client operations p99",
                "send, request, receive (fetch) and settle (ack/nak/term) round trips.",
                OPERATION_DURATION,
                svc,
                by="messaging_operation_name",
                quantiles=(0.99,),
            )
        )
        .with_row(dashboard.Row("Errors"))
        .with_panel(
            timeseries_panel(
                "Consumer error ratio by error type",
                "Share of each consumer's handled messages that failed, by exception class.",
                "percentunit",
                [
                    query(
                        f"sum by ({CONSUMER}, error_type) "
                        f"({rate(CONSUMED, process + ', ' + FAILED)})"
                        f" / on({CONSUMER}) group_left() "
                        f"sum by ({CONSUMER}) ({rate(CONSUMED, process)})",
                        "{{service_name}} {{messaging_destination_name}} {{error_type}}",
                    )
                ],
                data_links=traces_of_series("process", errors_only=True),
            )
        )
        .with_panel(
            timeseries_panel(
                "Failed sends and requests",
                "Publishes and requests that raised, by exception class "
                "(NoRespondersError, TimeoutError, ...).",
                "ops",
                [
                    query(
                        "sum by (service_name, messaging_operation_name, "
                        "messaging_destination_name, error_type) "
                        f"({rate(SENT, svc + ', ' + FAILED)})",
                        "{{service_name}} {{messaging_operation_name}} "
                        "{{messaging_destination_name}} {{error_type}}",
                        exemplar=True,
                    )
                ],
                data_links=traces_of_series(errors_only=True),
            )
        )
        .with_row(dashboard.Row("JetStream"))
        .with_panel(
            timeseries_panel(
                "In flight",
                "Messages being handled right now.",
                "short",
                [
                    query(
                        "sum by (service_name, messaging_destination_name) "
                        f"(natstrace_messages_in_flight{{{svc}}})",
                        "{{service_name}} {{messaging_destination_name}}",
                    )
                ],
                span=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Redeliveries",
                "Messages delivered again after a nak, a timeout or a crash.",
                "ops",
                [
                    query(
                        "sum by (service_name, messaging_destination_name) "
                        f"({rate('natstrace_redeliveries_total', svc)})",
                        "{{service_name}} {{messaging_destination_name}}",
                        exemplar=True,
                    )
                ],
                data_links=traces_of_series("process"),
                span=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Settlements by outcome",
                "ack, nak, term and in-progress per second.",
                "ops",
                [
                    query(
                        f"sum by (outcome) ({rate('natstrace_settlements_total', svc)})",
                        "{{outcome}}",
                    )
                ],
                span=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Consumer pending",
                "Messages in the stream not yet delivered to each consumer.",
                "short",
                [
                    query(
                        f"max by (stream, consumer) (natstrace_consumer_pending_messages{{{svc}}})",
                        "{{stream}}/{{consumer}}",
                    )
                ],
                span=6,
            )
        )
        .with_row(dashboard.Row("Telemetry health"))
        .with_panel(
            timeseries_panel(
                "Spans dropped",
                "Spans natstrace could not export: traces and exemplars will have gaps.",
                "ops",
                [
                    query(
                        "sum by (service_name, reason) "
                        f"({rate('natstrace_spans_dropped_total', svc)})",
                        "{{service_name}} {{reason}}",
                    )
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Invalid incoming headers",
                "Malformed or oversized trace and correlation headers that were dropped.",
                "ops",
                [
                    query(
                        "sum by (service_name, header) "
                        f"({rate('natstrace_invalid_headers_total', svc)})",
                        "{{service_name}} {{header}}",
                    )
                ],
            )
        )
    )
