"""Building blocks of natstrace's dashboards: metric names, queries, links, panels.

The metric names are the contract in README's metric reference; the datasource
uids are the ones dashboards/provisioning gives the datasources.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, heatmap, prometheus, stat, timeseries
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
CONSUMER = "service_name, messaging_destination_name"
"""The labels that name one consumer (and a Jaeger search for its spans)."""
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


def traces_of_series(
    operation: str = "", errors_only: bool = False
) -> list[dashboard.DashboardLink]:
    """Data links from a series to the Jaeger traces of its service and span name.

    The series must carry ``service_name`` and ``messaging_destination_name``, so a
    link always names one service, whatever the dashboard's selection. The span
    name's operation is the series' ``messaging_operation_name`` label; give
    ``operation`` only for a metric without that label. ``errors_only`` links find
    the spans that failed with the series' ``error_type`` (the span attribute
    ``error.type``, which every Jaeger storage can search)."""
    op = operation or "${__field.labels.messaging_operation_name}"
    query = (
        "service=${__field.labels.service_name}"
        f"&operation={op}%20${{__field.labels.messaging_destination_name}}"
    )
    if errors_only:
        query += "&tags=%7B%22error.type%22%3A%22${__field.labels.error_type}%22%7D"
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
