"""The per-service drill-down, with service and destination template variables."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from panels import (
    CONSUMED,
    DELIVERY_LATENCY,
    FAILED,
    OPERATION_DURATION,
    PROCESS_DURATION,
    SENT,
    SERVICES,
    base,
    heatmap_panel,
    jaeger_search,
    jaeger_url_variable,
    label_variable,
    latency_panel,
    query,
    rate,
    stat_panel,
    timeseries_panel,
    traces_of_series,
)


def service_drilldown() -> dashboard.Dashboard:
    svc = 'service_name="$service"'
    dest = f'{svc}, messaging_destination_name=~"$destination"'
    process = f'{dest}, messaging_operation_name="process"'
    traces = [jaeger_search("Traces of $service in Jaeger", "service=${service}")]
    return (
        base(
            "natstrace / Service",
            "natstrace-service",
            "One service's NATS traffic per subject template: what it sends and handles, "
            "how fast, and what fails.",
        )
        .with_variable(jaeger_url_variable())
        .with_variable(label_variable("service", "Service", SERVICES, False))
        .with_variable(
            label_variable(
                "destination",
                "Subject template",
                f"label_values({{{svc}}}, messaging_destination_name)",
                True,
            )
        )
        .with_row(dashboard.Row("$service"))
        .with_panel(
            stat_panel(
                "Sent",
                "Publishes and requests per second.",
                f"sum({rate(SENT, dest)})",
                "ops",
            )
        )
        .with_panel(
            stat_panel(
                "Processed",
                "Handled messages per second.",
                f"sum({rate(CONSUMED, process)})",
                "ops",
            )
        )
        .with_panel(
            stat_panel(
                "Error ratio (5m)",
                "Failed handlings over all handlings, worst subject template.",
                f"max(service_destination:messaging_consume_error_ratio:rate5m{{{dest}}})",
                "percentunit",
            )
        )
        .with_panel(
            stat_panel(
                "p99 processing time (5m)",
                "Slowest subject template's 99th percentile.",
                f"max(service_destination:messaging_process_duration_seconds:p99_5m{{{dest}}})",
                "s",
            )
        )
        .with_panel(
            timeseries_panel(
                "Outgoing",
                "Publishes and requests per subject template.",
                "ops",
                [
                    query(
                        "sum by (service_name, messaging_operation_name, "
                        f"messaging_destination_name) ({rate(SENT, dest)})",
                        "{{messaging_operation_name}} {{messaging_destination_name}}",
                        exemplar=True,
                    )
                ],
                links=traces,
                data_links=traces_of_series(),
            )
        )
        .with_panel(
            timeseries_panel(
                "Incoming",
                "Handled messages per subject template and outcome.",
                "ops",
                [
                    query(
                        "sum by (service_name, messaging_destination_name, error_type) "
                        f"({rate(CONSUMED, process)})",
                        "{{messaging_destination_name}} {{error_type}}",
                        exemplar=True,
                    )
                ],
                links=traces,
                data_links=traces_of_series("process"),
            )
        )
        .with_panel(
            heatmap_panel(
                "Processing time distribution",
                "All handlings of the selected subjects; exemplars open the trace.",
                PROCESS_DURATION,
                dest,
            )
        )
        .with_panel(
            latency_panel(
                "Processing time p99 per subject template",
                "Exemplar dots open the trace of a slow message.",
                PROCESS_DURATION,
                dest,
                by="service_name, messaging_destination_name",
                quantiles=(0.99,),
                links=traces,
                data_links=traces_of_series("process"),
            )
        )
        .with_panel(
            latency_panel(
                "Request round trip p99",
                "From request to reply, per subject template.",
                OPERATION_DURATION,
                f'{dest}, messaging_operation_name="request"',
                by="service_name, messaging_destination_name",
                quantiles=(0.99,),
                links=traces,
                data_links=traces_of_series("request"),
            )
        )
        .with_panel(
            timeseries_panel(
                "Errors by type",
                "Failed handlings and failed sends or requests, by exception class.",
                "ops",
                [
                    query(
                        "sum by (service_name, messaging_operation_name, "
                        "messaging_destination_name, error_type) "
                        f"({rate(CONSUMED, process + ', ' + FAILED)})",
                        "{{messaging_operation_name}} {{messaging_destination_name}} "
                        "{{error_type}}",
                        ref="A",
                    ),
                    query(
                        "sum by (service_name, messaging_operation_name, "
                        "messaging_destination_name, error_type) "
                        f"({rate(SENT, dest + ', ' + FAILED)})",
                        "{{messaging_operation_name}} {{messaging_destination_name}} "
                        "{{error_type}}",
                        ref="B",
                    ),
                ],
                data_links=traces_of_series(errors_only=True),
            )
        )
        .with_row(dashboard.Row("JetStream"))
        .with_panel(
            latency_panel(
                "Delivery latency p99",
                "Stream store time to processing start, per subject template.",
                DELIVERY_LATENCY,
                dest,
                by="messaging_destination_name",
                quantiles=(0.99,),
            )
        )
        .with_panel(
            timeseries_panel(
                "In flight",
                "Messages being handled right now.",
                "short",
                [
                    query(
                        "sum by (messaging_destination_name) "
                        f"(natstrace_messages_in_flight{{{dest}}})",
                        "{{messaging_destination_name}}",
                    )
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Redeliveries and settlements",
                "Redeliveries per subject template; settlement outcomes.",
                "ops",
                [
                    query(
                        "sum by (messaging_destination_name) "
                        f"({rate('natstrace_redeliveries_total', dest)})",
                        "redelivered {{messaging_destination_name}}",
                        ref="A",
                    ),
                    query(
                        f"sum by (outcome) ({rate('natstrace_settlements_total', dest)})",
                        "{{outcome}}",
                        ref="B",
                    ),
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Consumer pending",
                "Backlog of the JetStream consumers this service reads from.",
                "short",
                [
                    query(
                        f"max by (stream, consumer) (natstrace_consumer_pending_messages{{{svc}}})",
                        "{{stream}}/{{consumer}}",
                    )
                ],
            )
        )
    )
