"""``natstrace ui`` on a real demo run, in real headless Chromium.

Each test drives the page as a person would (open, search, click a tab) and checks
what matters on screen through the DOM and its geometry: every hop drawn, errors
in plain sight, nothing cut off or outside its canvas. Screenshots go to the
test's temp dir.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from natstrace.flow import build_topology, read_files
from natstrace.ui import UiServer

pytestmark = pytest.mark.integration

# Problems a reader would see, found through layout geometry rather than pixels.
_CUT_TEXT = """(selector) => [...document.querySelectorAll(selector)]
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
  .map(e => e.textContent)"""
_SVG_OUTSIDE = """(id) => {
  const svg = document.getElementById(id), box = svg.getBoundingClientRect();
  const drawn = [...svg.querySelectorAll('text, rect, path, line')].filter(e => !e.closest('defs'));
  return drawn.filter(e => {
    const r = e.getBoundingClientRect();
    return r.left < box.left - 1 || r.top < box.top - 1 ||
      r.right > box.right + 1 || r.bottom > box.bottom + 1;
  }).map(e => e.textContent || e.tagName);
}"""
_TEXT_OUTSIDE_ITS_BOX = """() => [...document.querySelectorAll('#topology g.node, g.edge')]
  .flatMap(g => {
    const box = g.querySelector('rect.box').getBoundingClientRect();
    return [...g.querySelectorAll('text')].filter(t => {
      const r = t.getBoundingClientRect();
      return r.left < box.left || r.right > box.right || r.top < box.top || r.bottom > box.bottom;
    }).map(t => t.textContent);
  })"""
_BOXES_OVERLAP = """() => {
  const boxes = [...document.querySelectorAll('#topology rect.box')]
    .map(r => r.getBoundingClientRect());
  let overlaps = 0;
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlaps++;
  }));
  return overlaps;
}"""


def _flow_json(trace_file: Path, correlation_id: str) -> dict[str, Any]:
    """What ``natstrace flow ID --format json`` prints: the reference for both views."""
    command = ["flow", correlation_id, "-f", str(trace_file), "--format", "json"]
    result = subprocess.run(
        [sys.executable, "-m", "natstrace.cli", *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _walk(hops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for hop in hops for item in [hop, *_walk(hop["children"])]]


def _redelivered_twice(console: UiServer) -> str:
    """Order 1: its shipment fails twice, so it is delivered three times."""
    workflows = console.store.snapshot.workflows
    return next(w.correlation_id for w in workflows if w.correlation_id.endswith("-0001"))


def test_the_list_loads_and_a_search_by_correlation_id_finds_the_workflow(
    demo_console: UiServer, page: Any, tmp_path: Path
) -> None:
    page.goto(demo_console.url)
    page.wait_for_selector("#workflows tbody tr[data-correlation-id]")
    ids = page.eval_on_selector_all(
        "#workflows tr[data-correlation-id]", "rows => rows.map(r => r.dataset.correlationId)"
    )
    assert len(ids) == 6
    page.screenshot(path=tmp_path / "list.png", full_page=True)

    wanted = ids[3]
    page.fill("#search", wanted)
    page.wait_for_function(
        "n => document.querySelectorAll('#workflows tr[data-correlation-id]').length === n", arg=1
    )
    found = page.eval_on_selector_all(
        "#workflows tr[data-correlation-id]", "rows => rows.map(r => r.dataset.correlationId)"
    )
    assert found == [wanted]

    page.fill("#search", "error:CarrierUnavailable")
    page.wait_for_function(
        "n => document.querySelectorAll('#workflows tr[data-correlation-id]').length === n", arg=2
    )
    assert page.eval_on_selector_all("#workflows td", "cells => cells.length") > 0
    assert page.evaluate(_CUT_TEXT, "#workflows td, #workflows th") == []


def test_the_waterfall_draws_every_hop_with_errors_and_deliveries_in_sight(
    demo_console: UiServer, demo_file: Path, page: Any, tmp_path: Path
) -> None:
    correlation_id = _redelivered_twice(demo_console)
    expected = _walk(_flow_json(demo_file, correlation_id)["hops"])

    page.goto(f"{demo_console.url}#/workflow/{correlation_id}")
    page.wait_for_selector("#waterfall[data-rendered]")
    page.screenshot(path=tmp_path / "waterfall.png", full_page=True)

    rows = page.eval_on_selector_all(
        "#waterfall .wrow[data-span-id]",
        """rows => rows.map(r => [r.dataset.spanId, r.dataset.service, r.dataset.operation,
            r.dataset.template, Number(r.dataset.deliveryCount || 0)])""",
    )
    assert rows == [
        [h["span_id"], h["service"], h["operation"], h["template"], h["delivery_count"] or 0]
        for h in expected
    ]
    # The redelivered shipment: all three deliveries, the first two nak'ed.
    deliveries = [r for r in rows if r[2] == "process" and r[3] == "shipments.requested"]
    assert [r[4] for r in deliveries] == [1, 2, 3]

    # The failures' text is on the page, whole, without hovering anything.
    errors = page.locator("#waterfall .err")
    assert errors.count() == 2
    for number in range(2):
        error = errors.nth(number)
        assert error.is_visible()
        assert f"CarrierUnavailableError: carrier unavailable (delivery {number + 1})" in (
            error.text_content()
        )
    assert page.evaluate(_CUT_TEXT, "#waterfall .wlabel") == []
    badges = page.eval_on_selector_all("#waterfall .badge", "bs => bs.map(b => b.textContent)")
    assert Counter(badges)["nak"] == 2 and "delivery #3" in badges and "link" in badges
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 1400

    # A click shows the hop's attributes.
    page.click("#waterfall .wrow.failed")
    details = page.locator("#details")
    details.wait_for()
    assert "natstrace.jetstream.delivery_count" in details.text_content()
    page.screenshot(path=tmp_path / "details.png", full_page=True)
    details.get_by_text("Close").click()
    assert details.is_hidden()


def test_the_sequence_diagram_has_an_arrow_for_every_delivery_reply_and_orphan(
    demo_console: UiServer, demo_file: Path, page: Any, tmp_path: Path
) -> None:
    correlation_id = _redelivered_twice(demo_console)
    hops = _walk(_flow_json(demo_file, correlation_id)["hops"])

    page.goto(f"{demo_console.url}#/workflow/{correlation_id}?view=sequence")
    page.wait_for_selector("#sequence[data-rendered]")
    page.screenshot(path=tmp_path / "sequence.png", full_page=True)

    arrows = page.eval_on_selector_all(
        "#sequence g.arrow",
        """gs => gs.map(g => [g.dataset.kind, g.dataset.source, g.dataset.target,
            Number(g.dataset.deliveryCount), g.dataset.failed === 'true'])""",
    )
    deliveries = Counter(
        (h["from_service"], h["service"], h["delivery_count"], h["error"] is not None)
        for h in hops
        if h["operation"] == "process"
    )
    assert (
        Counter((a[1], a[2], a[3], a[4]) for a in arrows if a[0] in ("message", "request"))
        == deliveries
    )
    replies = [h for h in hops if h["operation"] == "send" and h["template"] == "_INBOX"]
    assert sum(1 for a in arrows if a[0] == "reply") == len(replies) == 1
    assert ["unconsumed", "orders", "(nobody)", 1, False] in arrows
    # Both failed deliveries end in a cross with their error written under them.
    errors = page.eval_on_selector_all("#sequence text.error", "ts => ts.map(t => t.textContent)")
    assert len(errors) == 2 and all("CarrierUnavailableError" in e for e in errors)
    # Causal order: the shipment is requested after the payment was authorized.
    kinds = [(a[1], a[2]) for a in arrows]
    assert kinds.index(("payments", "orchestrator")) < kinds.index(("orchestrator", "shipping"))
    assert page.evaluate(_SVG_OUTSIDE, "sequence") == []
    # The demo's five services and (nobody) fit a 1400 px window: no scrolling sideways.
    fits = "s => s.getBoundingClientRect().width <= s.parentElement.clientWidth"
    assert page.eval_on_selector("#sequence", fits)
    lifelines = page.eval_on_selector_all(
        "#sequence g.participant", "gs => gs.map(g => g.dataset.name)"
    )
    assert set(lifelines) == {a[1] for a in arrows} | {a[2] for a in arrows}


def test_the_topology_draws_every_edge_readably(
    demo_console: UiServer, demo_file: Path, page: Any, tmp_path: Path
) -> None:
    topology = build_topology(read_files([demo_file]).spans)

    page.goto(f"{demo_console.url}#/topology")
    page.wait_for_selector("#topology g.edge")
    page.screenshot(path=tmp_path / "topology.png", full_page=True)

    drawn = page.eval_on_selector_all(
        "#topology g.edge",
        "gs => gs.map(g => [g.dataset.producer, g.dataset.template, g.dataset.consumer])",
    )
    assert sorted(map(tuple, drawn)) == sorted(
        (e.producer or "(untraced)", e.template, e.consumer or "(nobody)") for e in topology.edges
    )
    assert page.evaluate(_TEXT_OUTSIDE_ITS_BOX) == []
    assert page.evaluate(_BOXES_OVERLAP) == 0
    assert page.evaluate(_SVG_OUTSIDE, "topology") == []


def test_orphans_and_slow_hops_are_listed(
    demo_console: UiServer, page: Any, tmp_path: Path
) -> None:
    page.goto(f"{demo_console.url}#/orphans")
    page.wait_for_selector("#orphans")
    cells = page.eval_on_selector_all("#orphans td", "cs => cs.map(c => c.textContent)")
    assert cells[:3] == ["orders", "orders.audit", "6"]
    page.screenshot(path=tmp_path / "orphans.png", full_page=True)

    page.goto(f"{demo_console.url}#/slow")
    page.wait_for_selector("h2")
    assert page.locator("table").count() == 2
    # The slowest delivery latency is a redelivered shipment, linked to its workflow.
    first = page.locator("table").nth(1).locator("tr").nth(1)
    assert "shipments.requested" in first.text_content()
    first.locator("a").first.click()
    page.wait_for_selector("#waterfall[data-rendered]")
