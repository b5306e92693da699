"""The CLI's pictures: the Mermaid sequence diagram and the laid-out topology SVG."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from natstrace.flow import read_files
from natstrace.flow.topology import Edge, Topology
from natstrace.flow.topology_render import render_svg

_TEXT = r"(?:[^;#\n]|#\d+;)+"
"""Text with no bare ";" (it ends a Mermaid statement) or "#" (it starts an entity)."""
_LINE = re.compile(
    rf"sequenceDiagram|    participant p\d+ as {_TEXT}"
    rf"|    p\d+(->>|-->>|-x|-\))p\d+: {_TEXT}|    Note over p\d+: {_TEXT}"
)


def _natstrace(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "natstrace.cli", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def test_flow_as_a_mermaid_sequence_diagram(demo_file: Path) -> None:
    spans = read_files([demo_file]).spans
    workflow = next(
        s.conversation_id for s in spans if s.conversation_id and s.conversation_id.endswith("1")
    )

    text = _natstrace("flow", workflow, "-f", str(demo_file), "--format", "mermaid")

    lines = text.splitlines()
    assert all(_LINE.fullmatch(line) for line in lines), text
    names = dict(re.findall(r"participant (p\d+) as (.+)", text))
    arrows = [
        (names[a], kind, names[b], label)
        for a, kind, b, label in re.findall(r"(p\d+)(->>|-->>|-x|-\))(p\d+): (.+)", text)
    ]
    shipments = [a for a in arrows if a[3].startswith("shipments.requested")]
    assert [(a[0], a[1], a[2]) for a in shipments] == [
        ("orchestrator", "-x", "shipping"),
        ("orchestrator", "-x", "shipping"),
        ("orchestrator", "->>", "shipping"),
    ]
    # "#" would start an entity: the delivery number is written as one.
    assert "delivery #35;2 · nak" in shipments[1][3] and shipments[2][3].endswith("ack · [link]")
    assert ("inventory", "-->>", "orchestrator", "reply") in arrows
    assert ("orders", "-)", "(nobody)", "orders.audit · never processed") in arrows
    assert text.count("Note over") == 2 and "CarrierUnavailableError: carrier" in text


def _thirty_services() -> Topology:
    """30 services in six tiers of five, each sending to two of the next tier, with
    replies back to the first tier (cycles) and one subject nobody consumes."""
    edges = []
    for tier in range(5):
        for slot in range(5):
            source = f"tier{tier}-service{slot}"
            for step in (0, 2):
                target = f"tier{tier + 1}-service{(slot + step) % 5}"
                edges.append(
                    Edge(source, f"tier{tier}.events.step{step}", target, messages=100,
                         deliveries=100 + step, errors=step, latencies_ns=[(step + 1) * 10**6])
                )  # fmt: skip
    edges.append(Edge("tier5-service0", "results.ready", "tier0-service0", 50, 50))
    edges.append(Edge("tier5-service4", "archive.requested", None, messages=7))
    return Topology(edges, 60.0)


@pytest.mark.integration
def test_thirty_services_are_laid_out_without_overlaps(page: Any, tmp_path: Path) -> None:
    topology = _thirty_services()
    svg = render_svg(topology)
    picture = tmp_path / "thirty.svg"
    picture.write_text(svg)

    page.goto(picture.as_uri())
    page.screenshot(path=tmp_path / "thirty.png")

    problems = page.evaluate(
        """() => {
        const svg = document.documentElement, canvas = svg.getBoundingClientRect();
        const boxes = [...svg.querySelectorAll('rect.box')].map(r => r.getBoundingClientRect());
        const out = [];
        boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
          if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
            out.push('overlap');
        }));
        svg.querySelectorAll('g.node, g.edge').forEach(g => {
          const box = g.querySelector('rect.box').getBoundingClientRect();
          g.querySelectorAll('text').forEach(t => {
            const r = t.getBoundingClientRect();
            if (r.left < box.left || r.right > box.right ||
                r.top < box.top || r.bottom > box.bottom)
              out.push('text out of its box: ' + t.textContent);
          });
        });
        svg.querySelectorAll('g rect, g path, g text').forEach(e => {
          const r = e.getBoundingClientRect();
          if (r.left < canvas.left || r.right > canvas.right + 1 || r.top < canvas.top ||
              r.bottom > canvas.bottom + 1) out.push('outside the canvas');
        });
        return out;
    }"""
    )
    assert problems == []
    drawn = page.eval_on_selector_all("g.edge", "gs => gs.length")
    assert drawn == len(topology.edges)
    assert page.eval_on_selector_all("g.node", "gs => gs.length") == 31  # and (nobody)


def test_a_saga_s_compensation_reads_top_to_bottom(demo_file: Path) -> None:
    spans = read_files([demo_file]).spans
    declined = next(
        s.conversation_id for s in spans if s.conversation_id and s.conversation_id.endswith("3")
    )

    text = _natstrace("flow", declined, "-f", str(demo_file), "--format", "mermaid")

    names = dict(re.findall(r"participant (p\d+) as (.+)", text))
    arrows = [
        f"{names[a]} {kind} {names[b]}: {label}"
        for a, kind, b, label in re.findall(r"(p\d+)(->>|-->>|-x|-\))(p\d+): (.+)", text)
    ]
    compensation = [
        "payments ->> orchestrator: payments.declined",
        "orchestrator ->> inventory: inventory.release · request",
        "inventory -->> orchestrator: reply",
        "orchestrator ->> orders: orders.cancelled",
    ]
    after = arrows[arrows.index(compensation[0]) :]
    assert [a for a in after if a in compensation] == compensation
    # The stock was reserved first: the release compensates that reservation.
    assert arrows.index("orchestrator ->> inventory: inventory.reserve · request") < arrows.index(
        compensation[1]
    )
