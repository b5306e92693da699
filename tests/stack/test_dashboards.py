"""The Grafana dashboards: generated JSON is current, every query parses and, on
contract-shaped data scraped by a real Prometheus, returns data and exemplars."""

from __future__ import annotations

import time

import pytest
import yaml
from stack_support import (
    DASHBOARDS,
    ContractWorkload,
    Prometheus,
    checked_in_dashboards,
    load_generator,
    panel_queries,
    rule_expressions,
    substitute,
)

# One concrete selection per dashboard, as a user would pick it in Grafana.
VARIABLES = {
    "natstrace-overview.json": {"service": ".*", "__rate_interval": "1m"},
    "natstrace-service.json": {
        "service": "payments",
        "destination": ".*",
        "__rate_interval": "1m",
    },
}

ALL_QUERIES = [
    pytest.param(name, title, expr, id=f"{name}:{title}:{i}")
    for name, board in checked_in_dashboards().items()
    for i, (title, expr) in enumerate(panel_queries(board))
]


def test_checked_in_json_matches_the_generator() -> None:
    generated = load_generator().generate()
    on_disk = {p.name: p.read_text() for p in DASHBOARDS.glob("*.json")}
    assert set(generated) == set(on_disk), "run: python dashboards/generate.py"
    for name, text in generated.items():
        assert text == on_disk[name], f"{name} is stale: run python dashboards/generate.py"


def test_dashboards_have_the_required_shape() -> None:
    boards = checked_in_dashboards()
    assert set(boards) == set(VARIABLES)
    service = boards["natstrace-service.json"]
    variables = {v["name"]: v for v in service["templating"]["list"]}
    assert variables["service"]["type"] == "query"
    assert variables["destination"]["multi"] is True
    for name, board in boards.items():
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert len(panels) >= 10, name
        # Links to Jaeger searches, and exemplars on every latency panel.
        jaeger_links = [
            link["url"]
            for p in panels
            for link in p.get("links", [])
            + p.get("fieldConfig", {}).get("defaults", {}).get("links", [])
            if "${jaeger_url}/search?" in link["url"]
        ]
        assert len(jaeger_links) >= 5, name
        for panel in panels:
            if "_seconds_bucket" in str(panel["targets"]) and panel["type"] != "stat":
                assert all(t.get("exemplar") for t in panel["targets"]), panel["title"]


def test_provisioning_links_exemplars_to_jaeger() -> None:
    provisioning = DASHBOARDS / "provisioning" / "datasources" / "natstrace.yaml"
    sources = {d["uid"]: d for d in yaml.safe_load(provisioning.read_text())["datasources"]}
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["jaeger"]["type"] == "jaeger"
    destinations = sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert {"name": "trace_id", "datasourceUid": "jaeger"} in destinations
    used = {
        item["datasource"]["uid"]
        for board in checked_in_dashboards().values()
        for item in board["panels"] + board["templating"]["list"]
        if "datasource" in item
    }
    assert "prometheus" in used
    assert used <= set(sources), "dashboards refer to a datasource uid nobody provisions"


def test_substitution_leaves_no_variable() -> None:
    for name, board in checked_in_dashboards().items():
        for _, expr in panel_queries(board):
            assert "$" not in substitute(expr, VARIABLES[name])


@pytest.mark.integration
@pytest.mark.parametrize(("dashboard", "title", "expr"), ALL_QUERIES)
def test_panel_query_parses(prometheus: Prometheus, dashboard: str, title: str, expr: str) -> None:
    body = prometheus.query(substitute(expr, VARIABLES[dashboard]))
    assert body["status"] == "success", f"{title}: {body.get('error')}"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "expr"), rule_expressions(), ids=[n for n, _ in rule_expressions()]
)
def test_rule_expression_parses(prometheus: Prometheus, name: str, expr: str) -> None:
    body = prometheus.query(expr)
    assert body["status"] == "success", f"{name}: {body.get('error')}"


@pytest.mark.integration
def test_every_panel_returns_data_from_contract_shaped_metrics(
    contract_workload: ContractWorkload,
) -> None:
    # Ties dashboards and recording rules to the metric contract: a renamed metric
    # or label empties a panel and fails here, independent of the core library.
    server = Prometheus(targets=[contract_workload.target])
    try:
        empty = []
        for name, board in checked_in_dashboards().items():
            for title, expr in panel_queries(board):
                result = server.wait_for(substitute(expr, VARIABLES[name]))
                if not result:
                    empty.append(f"{name}: {title}: {expr}")
        assert empty == [], "panels without data:\n" + "\n".join(empty)

        # The numbers are the workload's, not just any: 1 in 5 handlings fail.
        ratio = server.wait_for(
            'service_destination:messaging_consume_error_ratio:rate5m{service_name="payments"}'
        )
        assert 0.1 < float(ratio[0]["value"][1]) < 0.3

        now = time.time()
        exemplars = server.api(
            "query_exemplars",
            query="messaging_process_duration_seconds_bucket",
            start=str(now - 120),
            end=str(now),
        )
        assert exemplars["status"] == "success"
        trace_ids = {e["labels"]["trace_id"] for s in exemplars["data"] for e in s["exemplars"]}
        assert trace_ids
        assert all(len(t) == 32 and int(t, 16) > 0 for t in trace_ids), "valid trace IDs"
    finally:
        server.stop()
