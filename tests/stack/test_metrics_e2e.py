"""Where on-call people look, on the shared stack run: span metrics in Prometheus
and Jaeger's Monitor tab, every dashboard query and Jaeger link, exemplars, and the
Grafana Jaeger datasource's related-metrics queries."""

from __future__ import annotations

import math
import re
import time
import urllib.parse
from typing import Any

import pytest
import yaml
from go_stack import wait_until
from stack_run import StackRun, jaeger_spans
from stack_support import DASHBOARDS, checked_in_dashboards, panel_queries, substitute

from natstrace.flow.model import SpanKind

pytestmark = pytest.mark.integration

MESSAGING_KINDS = ("producer", "consumer", "client")
"""natstrace's span kinds, as Jaeger's Monitor tab names them."""

# Panels the demo cannot fill, each covered elsewhere: its requests are always
# answered (test_live_workload.py fails requests) and a healthy run drops no span
# (test_faults.py stops the collector).
NOT_IN_THE_DEMO = {"Failed sends and requests", "Spans dropped"}


def prometheus_result(run: StackRun, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = run.prometheus.wait_for(expr, timeout=timeout)
    return result


def test_span_metrics_have_what_the_monitor_tab_queries(stack_run: StackRun) -> None:
    for kind in MESSAGING_KINDS:
        selector = f'span_kind="SPAN_KIND_{kind.upper()}"'
        calls = prometheus_result(stack_run, f"traces_span_metrics_calls_total{{{selector}}}")
        assert calls, kind
        assert {"service_name", "span_name", "span_kind", "status_code"} <= set(calls[0]["metric"])
        buckets = prometheus_result(
            stack_run, f"traces_span_metrics_duration_milliseconds_bucket{{{selector}}}"
        )
        assert buckets, kind
    # Core NATS sends take well under a millisecond, JetStream ones wait for the
    # PubAck: the sub-millisecond buckets tell them apart.
    producer = 'span_kind="SPAN_KIND_PRODUCER"'
    fast = prometheus_result(
        stack_run,
        f'sum(traces_span_metrics_duration_milliseconds_bucket{{{producer}, le="0.25"}})'
        f" / sum(traces_span_metrics_duration_milliseconds_count{{{producer}}})",
    )
    assert fast and 0 < float(fast[0]["value"][1]) < 1, fast


def monitor(run: StackRun, metric: str, service: str, kind: str, **extra: str) -> Any:
    """What the Monitor tab asks for (its defaults: the last hour, rates per 10 min)."""
    now_ms = int(time.time() * 1000)
    params = {
        "service": service,
        "spanKind": kind,
        "endTs": str(now_ms),
        "lookback": str(60 * 60 * 1000),
        "step": "15000",
        "ratePer": str(10 * 60 * 1000),
        **extra,
    }
    return run.jaeger.api(f"/api/metrics/{metric}", **params)


def points(body: Any) -> list[float]:
    """The values of a metrics API answer; NaN (no data at that step) left out."""
    values = []
    for series in body.get("metrics", []) if isinstance(body, dict) else []:
        for point in series.get("metricPoints", []):
            value = float(point.get("gaugeValue", {}).get("doubleValue", "NaN"))
            if not math.isnan(value):
                values.append(value)
    return values


@pytest.mark.parametrize(
    ("service", "kind"),
    [("orders", "producer"), ("shipping", "consumer"), ("orchestrator", "client")],
)
def test_the_monitor_tab_shows_natstrace_span_kinds(
    stack_run: StackRun, service: str, kind: str
) -> None:
    # What the Monitor tab asks once "Span Kind" is set to Producer, Consumer or Client.
    # The span metrics move every 15 s (metrics_flush_interval): wait for each answer.
    def positive(metric: str, **extra: str) -> list[float]:
        found: list[float] = wait_until(
            lambda: [
                v for v in points(monitor(stack_run, metric, service, kind, **extra)) if v > 0
            ],
            40,
        )
        return found

    assert positive("calls"), monitor(stack_run, "calls", service, kind)
    assert positive("latencies", quantile="0.95"), monitor(stack_run, "latencies", service, kind)
    # An error rate, zero where nothing failed (the tab draws a flat line, not "no data").
    assert points(monitor(stack_run, "errors", service, kind))
    # The tab's default span kind is server: natstrace makes none, which is why the
    # docs tell users to switch.
    assert not [v for v in points(monitor(stack_run, "calls", service, "server")) if v > 0]


def test_consumer_errors_show_as_an_error_rate(stack_run: StackRun) -> None:
    errors = wait_until(
        lambda: [v for v in points(monitor(stack_run, "errors", "shipping", "consumer")) if v > 0],
        40,
    )
    assert errors and max(errors) < 1


# --- dashboards ----------------------------------------------------------------------


def selections(run: StackRun, name: str) -> list[dict[str, str]]:
    """The variable values a user picks: "All" (overview) and each single service."""
    rate = {"__rate_interval": "1m"}
    singles = [{"service": s, "destination": ".*", **rate} for s in run.services]
    if name == "natstrace-overview.json":
        return [{"service": ".*", **rate}, *singles]
    return singles


def test_every_dashboard_panel_returns_data_on_the_run(stack_run: StackRun) -> None:
    empty = []
    for name, board in checked_in_dashboards().items():
        panels: dict[str, list[str]] = {}
        for title, expr in panel_queries(board):
            panels.setdefault(title, []).append(expr)
        for title, exprs in panels.items():
            if title in NOT_IN_THE_DEMO:
                continue
            # A panel shows data when any of its queries does.
            found = [
                any(stack_run.query(substitute(expr, values)) for expr in exprs)
                for values in selections(stack_run, name)
            ]
            # "All" must show data; so must at least one single service.
            if name == "natstrace-overview.json" and not found[0]:
                empty.append(f"{name}: {title} (All)")
            if not any(found):
                empty.append(f"{name}: {title}")
    assert empty == [], "\n".join(empty)


def links_of(panel: dict[str, Any]) -> list[str]:
    links = panel.get("links", []) + panel.get("fieldConfig", {}).get("defaults", {}).get(
        "links", []
    )
    return [link["url"] for link in links if "${jaeger_url}/search?" in link["url"]]


def field_values(url: str, labels: dict[str, str], values: dict[str, str]) -> str:
    url = re.sub(r"\$\{__field\.labels\.(\w+)\}", lambda m: labels.get(m.group(1), ""), url)
    return substitute(url, {**values, "jaeger_url": ""})


def jaeger_search(run: StackRun, link: str) -> list[Any]:
    """What the Jaeger UI's search page shows for a link: it calls /api/traces with
    the page's query string."""
    query = dict(urllib.parse.parse_qsl(link.split("?", 1)[1]))
    query.setdefault("lookback", "1h")
    query.setdefault("limit", "20")
    body = run.jaeger.api("/api/traces", **query)
    data: list[Any] = body.get("data") or []
    return data


def test_every_jaeger_link_finds_traces(stack_run: StackRun) -> None:
    missing = []
    checked = 0
    for name, board in checked_in_dashboards().items():
        panels = [p for row in board["panels"] for p in [row, *row.get("panels", [])]]
        for panel in panels:
            urls = links_of(panel)
            if not urls or panel["title"] in NOT_IN_THE_DEMO:
                continue
            for values in selections(stack_run, name):
                series = []
                for target in panel.get("targets", []):
                    expr = substitute(target["expr"], values)
                    series += [s["metric"] for s in stack_run.query(expr)]
                for url in urls:
                    for labels in series if "__field.labels" in url else [{}]:
                        if "error=" not in urllib.parse.unquote(url) or labels.get("error_type"):
                            link = field_values(url, labels, values)
                            checked += 1
                            if not jaeger_search(stack_run, link):
                                missing.append(f"{name}: {panel['title']}: {link}")
    assert checked > 20
    assert missing == [], "links that find no trace:\n" + "\n".join(sorted(set(missing)))


def test_exemplars_point_at_traces_jaeger_holds(stack_run: StackRun) -> None:
    now = time.time()
    body = stack_run.prometheus.api(
        "query_exemplars",
        query='{__name__=~"messaging_.+|natstrace_.+"}',
        start=str(now - 600),
        end=str(now + 60),
    )
    ids = {e["labels"]["trace_id"] for s in body["data"] for e in s["exemplars"]}
    assert len(ids) >= 5
    kept = set(jaeger_spans(stack_run))
    assert ids <= kept, f"{len(ids - kept)} of {len(ids)} exemplars name dropped traces"
    # The span metrics carry none: they are computed before sampling.
    body = stack_run.prometheus.api(
        "query_exemplars",
        query='{__name__=~"traces_span_metrics_.+"}',
        start=str(now - 600),
        end=str(now + 60),
    )
    assert all(not s["exemplars"] for s in body["data"])


def test_the_grafana_jaeger_datasource_finds_related_metrics(stack_run: StackRun) -> None:
    path = DASHBOARDS / "provisioning" / "datasources" / "natstrace.yaml"
    sources = {d["uid"]: d for d in yaml.safe_load(path.read_text())["datasources"]}
    settings = sources["jaeger"]["jsonData"]["tracesToMetrics"]
    assert settings["datasourceUid"] == "prometheus" and settings["queries"]
    spans = [s for spans in jaeger_spans(stack_run).values() for s in spans]
    answered = {query["name"]: 0 for query in settings["queries"]}
    for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.CLIENT):
        span = next(s for s in spans if s.kind is kind)
        attributes = {"service.name": span.service, **span.attributes}
        # Grafana's $__tags: label="value" for each mapped span attribute present.
        tags = ", ".join(
            f'{tag["value"]}="{attributes[tag["key"]]}"'
            for tag in settings["tags"]
            if tag["key"] in attributes
        )
        found_any = False
        for query in settings["queries"]:
            expr = query["query"].replace("$__tags", tags)
            if stack_run.query(expr):
                answered[query["name"]] += 1
                found_any = True
        assert found_any, f"no related metric for a {kind.name} span ({tags})"
    assert all(answered.values()), answered
