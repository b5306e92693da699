"""Generate natstrace's Grafana dashboards from code.

    python dashboards/generate.py          rewrite the JSON files next to this script

The JSON is checked in so Grafana can provision it without Python; the test suite
regenerates it and fails when the two differ, so edit this file, never the JSON.
Queries use only the metric contract in ../../shared/DESIGN.md and the recording
rules in collector-config/prometheus/rules.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.heatmap import HeatmapColorMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

HERE = Path(__file__).resolve().parent

# The uids the provisioning in dashboards/provisioning/datasources gives the datasources.
PROMETHEUS = common.DataSourceRef(type_val="prometheus", uid="prometheus")

# Panel links open the Jaeger UI in the browser, so they need the address the user's
# browser reaches (compose publishes it on localhost), not the in-network one.
JAEGER_URL = "${jaeger_url}"

SENT = "messaging_client_sent_messages_total"
CONSUMED = "messaging_client_consumed_messages_total"
OPERATION_DURATION = "messaging_client_operation_duration_seconds"
PROCESS_DURATION = "messaging_process_duration_seconds"
DELIVERY_LATENCY = "natstrace_delivery_latency_seconds"
FAILED = 'error_type!=""'
# Every natstrace series carries service_name; a consumer-only service has no sent series.
SERVICES = 'label_values({__name__=~"messaging_client_.+"}, service_name)'


# --- links -------------------------------------------------------------------------


def jaeger_search(title: str, query: str) -> dashboard.DashboardLink:
    """A link to a Jaeger search; `query` is the URL's query string."""
    return (
        dashboard.DashboardLink(title)
        .type(DashboardLinkType.LINK)
        .url(f"{JAEGER_URL}/search?{query}")
        .target_blank(True)
    )


def traces_of_series(operation: str, errors_only: bool = False) -> list[dashboard.DashboardLink]:
    """Data links from a series (labelled service_name, messaging_destination_name)
    to the Jaeger traces of that service and span name."""
    query = (
        "service=${__field.labels.service_name}"
        f"&operation={operation}%20${{__field.labels.messaging_destination_name}}"
    )
    if errors_only:
        query += "&tags=%7B%22error%22%3A%22true%22%7D"
    return [jaeger_search("Traces in Jaeger", query)]


# --- queries -----------------------------------------------------------------------


def query(
    expr: str, legend: str = "", ref: str = "A", exemplar: bool = False
) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).legend_format(legend or "__auto")
    return q.exemplar(exemplar)


def rate(metric: str, selector: str) -> str:
    return f"rate({metric}{{{selector}}}[$__rate_interval])"


def quantile(q: float, histogram: str, selector: str, by: str = "") -> str:
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) ({rate(histogram + '_bucket', selector)}))"


# --- panels: one function per panel type ---------------------------------------------


def stat_panel(title: str, description: str, expr: str, unit: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .with_target(query(expr).instant())
        .unit(unit)
        .height(4)
        .span(6)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    links: Sequence[dashboard.DashboardLink] = (),
    data_links: Sequence[dashboard.DashboardLink] = (),
    span: int = 12,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(list(targets))
        .unit(unit)
        .height(8)
        .span(span)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["mean", "max"])
        )
    )
    if links:
        panel = panel.links(list(links))
    if data_links:
        panel = panel.data_links(list(data_links))
    return panel


def latency_panel(
    title: str,
    description: str,
    histogram: str,
    selector: str,
    by: str = "",
    quantiles: Sequence[float] = (0.5, 0.95, 0.99),
    links: Sequence[dashboard.DashboardLink] = (),
    data_links: Sequence[dashboard.DashboardLink] = (),
) -> timeseries.Panel:
    """Percentiles of a histogram; exemplars on, so a dot links to the slow trace."""
    prefix = " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(",") if label.strip())
    targets = [
        query(
            quantile(q, histogram, selector, by),
            legend=f"{prefix} p{round(q * 100)}".strip(),
            ref=chr(ord("A") + i),
            exemplar=True,
        )
        for i, q in enumerate(quantiles)
    ]
    return timeseries_panel(title, description, "s", targets, links, data_links)


def heatmap_panel(title: str, description: str, histogram: str, selector: str) -> heatmap.Panel:
    expr = f"sum by (le) (increase({histogram}_bucket{{{selector}}}[$__rate_interval]))"
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .with_target(query(expr, legend="{{le}}", exemplar=True).format(PromQueryFormat.HEATMAP))
        .calculate(False)
        .height(8)
        .span(12)
        .y_axis(heatmap.YAxisConfig().unit("s"))
        .color(heatmap.HeatmapColorOptions().mode(HeatmapColorMode.SCHEME).scheme("Oranges"))
        .exemplars_color("rgba(255,0,255,0.7)")
    )


# --- variables ---------------------------------------------------------------------


def jaeger_url_variable() -> dashboard.ConstantVariable:
    return (
        dashboard.ConstantVariable("jaeger_url")
        .label("Jaeger UI")
        .description("Where the browser reaches the Jaeger UI (panel links use it).")
        .value("http://localhost:16686")
    )


def label_variable(
    name: str, label: str, values_query: str, multi: bool
) -> dashboard.QueryVariable:
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query({"query": values_query, "refId": name, "qryType": 1})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        variable = (
            variable.multi(True)
            .include_all(True)
            .all_value(".*")
            .current(VariableOption(text="All", value="$__all", selected=True))
        )
    return variable


def base(title: str, uid: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["natstrace", "nats", "messaging"])
        .time("now-30m", "now")
        .refresh("30s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .editable()
        .link(
            dashboard.DashboardLink("natstrace dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["natstrace"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


# --- dashboards --------------------------------------------------------------------


def overview() -> dashboard.Dashboard:
    svc = 'service_name=~"$service"'
    process = f'{svc}, messaging_operation_name="process"'
    all_traces = [jaeger_search("Traces in Jaeger", "service=${service}")]
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
                f"sum(rate({SENT}{{{svc}}}[$__rate_interval]))",
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
                links=all_traces,
                data_links=traces_of_series("send"),
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
                links=all_traces,
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
                links=all_traces,
            )
        )
        .with_panel(
            latency_panel(
                "Delivery latency (JetStream store to processing)",
                "How long a message waits in the stream before a handler starts on it.",
                DELIVERY_LATENCY,
                svc,
                quantiles=(0.5, 0.99),
                links=all_traces,
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
                links=all_traces,
            )
        )
        .with_row(dashboard.Row("Errors"))
        .with_panel(
            timeseries_panel(
                "Consumer error ratio by error type",
                "Share of handled messages that failed, split by exception class.",
                "percentunit",
                [
                    query(
                        f"sum by (error_type) ({rate(CONSUMED, process + ', ' + FAILED)})"
                        f" / on() group_left() sum({rate(CONSUMED, process)})",
                        "{{error_type}}",
                    )
                ],
                links=[
                    jaeger_search(
                        "Failed traces in Jaeger",
                        "service=${service}&tags=%7B%22error%22%3A%22true%22%7D",
                    )
                ],
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
                        "sum by (service_name, messaging_destination_name, error_type) "
                        f"({rate(SENT, svc + ', ' + FAILED)})",
                        "{{service_name}} {{messaging_destination_name}} {{error_type}}",
                        exemplar=True,
                    )
                ],
                data_links=traces_of_series("request", errors_only=True),
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
                data_links=traces_of_series("send"),
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
                        "sum by (service_name, messaging_destination_name, error_type) "
                        f"({rate(CONSUMED, process + ', ' + FAILED)})",
                        "process {{messaging_destination_name}} {{error_type}}",
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
                data_links=traces_of_series("process", errors_only=True),
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


DASHBOARDS = {
    "natstrace-overview.json": overview,
    "natstrace-service.json": service_drilldown,
}


def render(board: dashboard.Dashboard) -> str:
    return json.dumps(board.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def generate() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def main() -> None:
    for name, text in generate().items():
        (HERE / name).write_text(text)
        print(f"wrote dashboards/{name}")


if __name__ == "__main__":
    main()
