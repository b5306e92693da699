"""The HTML page in a real headless browser, and the topology pictures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from natstrace.flow import Span, build_topology, reconstruct_flow, render_flow_html, render_svg
from tests.flow.browser import CHROMIUM, chromium


@pytest.mark.integration
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_html_timeline_renders_every_hop_in_a_browser(
    workflow_spans: list[Span], tmp_path: Path
) -> None:
    page = tmp_path / "flow.html"
    page.write_text(render_flow_html(reconstruct_flow(workflow_spans, "order-2")))

    dom = chromium("--dump-dom", page.as_uri()).stdout
    chromium(f"--screenshot={tmp_path / 'flow.png'}", "--window-size=1200,400", page.as_uri())

    # The rows only exist if the page's script ran on its embedded data.
    assert 'data-rendered="5"' in dom
    rows = re.findall(
        r'<div class="hop( failed)?" data-service="(\w+)" data-template="([^"]+)"', dom
    )
    assert [(service, template, bool(failed)) for failed, service, template in rows] == [
        ("orders", "orders.created", False),
        ("payments", "orders.*", True),
        ("payments", "inventory.reserve", False),
        ("inventory", "inventory.reserve", False),
        ("inventory", "_INBOX", False),
    ]
    assert "CardDeclinedError: card 4000-0002 declined" in dom
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_script_end_tag_in_the_data_cannot_break_out(workflow_spans: list[Span]) -> None:
    hostile = "</script><b>x"
    spans = [
        replace(s, attributes={**s.attributes, "messaging.message.conversation_id": hostile})
        for s in workflow_spans
        if s.conversation_id == "order-2"
    ]

    page = render_flow_html(reconstruct_flow(spans, hostile))

    # Only the two script elements' own end tags: the data never closes one early.
    assert page.count("</script>") == 2
    assert "<b>x" not in page


def test_the_svg_is_well_formed_and_draws_every_edge(workflow_spans: list[Span]) -> None:
    svg = render_svg(build_topology(workflow_spans))

    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    nodes = {g.get("data-name") for g in root.iterfind("svg:g[@class='node']", ns)}
    edges = {
        (g.get("data-producer"), g.get("data-template"), g.get("data-consumer"))
        for g in root.iterfind("svg:g[@class='edge']", ns)
    }
    assert nodes == {"orders", "payments", "inventory", "shipping", "(nobody)"}
    assert ("orders", "audit.order_placed", "(nobody)") in edges
    assert len(edges) == 4
