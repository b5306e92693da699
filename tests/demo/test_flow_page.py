"""The HTML flow page of a real demo workflow in headless Chromium at 1400 px:
nothing cut, every hop shown with its error, deliveries, settlement and link,
a time axis and a legend, and a fetch that began early drawn at its real length."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from natstrace.flow import flow_to_dict, reconstruct_flow, render_flow_html
from tests.demo.conftest import DemoRun
from tests.flow.browser import CHROMIUM, measure_page

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]


def _walk(hops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for hop in hops:
        found.append(hop)
        found.extend(_walk(hop["children"]))
    return found


def _redelivered_workflow(demo_run: DemoRun) -> str:
    """A workflow with a redelivery and a fetch that began before its first send
    (orders 1 and 4 are redelivered; each fetch waits 0.5 s, so it almost always
    began before the order was placed)."""
    spans = demo_run.spans
    redelivered = dict.fromkeys(
        s.conversation_id
        for s in sorted(spans, key=lambda s: s.start_ns)
        if s.is_process and s.delivery_count > 1 and s.conversation_id
    )
    for correlation_id in redelivered:
        hops = _walk(flow_to_dict(reconstruct_flow(spans, correlation_id))["hops"])
        if any(h["start_offset_ms"] < 0 for h in hops):
            return correlation_id
    raise AssertionError(f"no redelivered workflow with an early fetch among {redelivered}")


def test_the_page_shows_every_hop_readably(demo_run: DemoRun, tmp_path: Path) -> None:
    flow = reconstruct_flow(demo_run.spans, _redelivered_workflow(demo_run))
    data = flow_to_dict(flow)
    hops = _walk(data["hops"])

    page = measure_page(render_flow_html(flow), tmp_path)

    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page["cut"] == [], page["cut"]
    assert page["scroll"] <= page["width"], "the page scrolls sideways"
    rows = page["rows"]
    assert [(r["service"], r["operation"], r["template"]) for r in rows] == [
        (h["service"], h["operation"], h["template"]) for h in hops
    ]
    for hop, row in zip(hops, rows, strict=True):
        if hop["error"]:
            error = f"{hop['error']['type']}: {hop['error']['message']}"
            assert error in row["text"], row  # visible without hovering
            assert error in row["title"], row  # and in the tooltip
        if (hop["delivery_count"] or 0) > 1:
            assert f"delivery #{hop['delivery_count']}" in row["text"]
        if hop["settlement"]:
            assert hop["settlement"] in row["text"].split()
        if hop["cause"] == "link":
            assert "[link]" in row["text"]
    texts = "\n".join(row["text"] for row in rows)
    assert "delivery #2" in texts and "nak" in texts and "[link]" in texts

    # One scale for every bar, from the earliest start: a fetch that began waiting
    # before the first send is as long as it really was, not cut at 0.
    lo = min(0.0, *(h["start_offset_ms"] for h in hops))
    hi = max(data["duration_ms"], *(h["start_offset_ms"] + h["duration_ms"] for h in hops))
    early = [(h, r) for h, r in zip(hops, rows, strict=True) if h["start_offset_ms"] < 0]
    assert early, "the demo's shipping fetch starts before the order is placed"
    for hop, row in early:
        lane_left, lane_width = row["lane"]
        bar_left, bar_width = row["bar"]
        assert bar_width == pytest.approx(lane_width * hop["duration_ms"] / (hi - lo), abs=2)
        assert bar_left == pytest.approx(lane_left, abs=2)

    assert "0" in page["ticks"] and len(page["ticks"]) >= 3
    for words in ("send", "process", "receive", "failed", "delivery wait", "[link]"):
        assert words in page["legend"]
