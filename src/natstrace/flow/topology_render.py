"""Render a :class:`~.topology.Topology` as Mermaid, Graphviz DOT, SVG or JSON.

The SVG is drawn here (a left-to-right layered layout) so that a picture needs no
Graphviz installation; the DOT text is there for anyone who has one.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from natstrace.flow.flow_terminal import format_duration
from natstrace.flow.topology import Edge, Topology, percentile

__all__ = [
    "NOBODY",
    "UNTRACED",
    "edge_label",
    "render_dot",
    "render_mermaid",
    "render_svg",
    "topology_to_dict",
]

NOBODY = "(nobody)"
"""The node that unprocessed messages go to."""
UNTRACED = "(untraced)"
"""The node that deliveries of untraced sends come from."""


def _producer(edge: Edge) -> str:
    return edge.producer if edge.producer is not None else UNTRACED


def _consumer(edge: Edge) -> str:
    return edge.consumer if edge.consumer is not None else NOBODY


def edge_label(edge: Edge, seconds: float) -> str:
    """``orders.created · 2.0/s · 5% err · p95 3.1ms``: what every format shows."""
    parts = [edge.template, f"{edge.rate(seconds):.3g}/s"]
    if edge.deliveries:
        parts.append(f"{edge.error_ratio:.0%} err")
    p95 = percentile(edge.latencies_ns, 0.95)
    if p95 is not None:
        parts.append(f"p95 {format_duration(p95)}")
    return " · ".join(parts)


def _nodes(topology: Topology) -> list[str]:
    names = dict.fromkeys(
        name for edge in topology.edges for name in (_producer(edge), _consumer(edge))
    )
    return sorted(names)


def render_mermaid(topology: Topology) -> str:
    """A Mermaid ``flowchart LR``."""
    ids = {name: f"n{number}" for number, name in enumerate(_nodes(topology))}
    lines = ["flowchart LR"]
    for name, node_id in ids.items():
        shape = f'{node_id}(["{name}"])' if name in (NOBODY, UNTRACED) else f'{node_id}["{name}"]'
        lines.append(f"    {shape}")
    for edge in topology.edges:
        # Mermaid has no escape for a quote inside a label; #quot; is its entity.
        label = edge_label(edge, topology.seconds).replace('"', "#quot;")
        arrow = "-.->" if edge.consumer is None else "-->"
        lines.append(f'    {ids[_producer(edge)]} {arrow}|"{label}"| {ids[_consumer(edge)]}')
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(topology: Topology) -> str:
    """A Graphviz ``digraph``."""
    lines = ["digraph natstrace {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for name in _nodes(topology):
        style = " [style=dashed]" if name in (NOBODY, UNTRACED) else ""
        lines.append(f"  {_dot_quote(name)}{style};")
    for edge in topology.edges:
        attrs = [f"label={_dot_quote(edge_label(edge, topology.seconds))}"]
        if edge.consumer is None:
            attrs.append("style=dashed")
        if edge.errors:
            attrs.append("color=red")
        lines.append(
            f"  {_dot_quote(_producer(edge))} -> {_dot_quote(_consumer(edge))} "
            f"[{', '.join(attrs)}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def topology_to_dict(topology: Topology) -> dict[str, Any]:
    """JSON-ready data: one object per edge, latencies in milliseconds."""

    def ms(value: int | None) -> float | None:
        return None if value is None else round(value / 1e6, 3)

    return {
        "seconds": round(topology.seconds, 3),
        "services": topology.services,
        "edges": [
            {
                "producer": edge.producer,
                "template": edge.template,
                "consumer": edge.consumer,
                "messages": edge.messages,
                "deliveries": edge.deliveries,
                "errors": edge.errors,
                "error_ratio": round(edge.error_ratio, 4),
                "rate_per_second": round(edge.rate(topology.seconds), 3),
                "latency_p50_ms": ms(percentile(edge.latencies_ns, 0.5)),
                "latency_p95_ms": ms(percentile(edge.latencies_ns, 0.95)),
                "duration_p95_ms": ms(percentile(edge.durations_ns, 0.95)),
            }
            for edge in topology.edges
        ],
    }


_BOX_W, _BOX_H, _COL_W, _ROW_H, _MARGIN = 170, 38, 330, 90, 30


def _levels(names: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    # Longest path from a source, relaxed at most len(names) times so a cycle
    # (request-reply between two services) cannot loop forever.
    level = dict.fromkeys(names, 0)
    for _ in names:
        changed = False
        for source, target in edges:
            if source != target and level[target] < level[source] + 1 <= len(names):
                level[target] = level[source] + 1
                changed = True
        if not changed:
            break
    return level


def render_svg(topology: Topology) -> str:
    """A standalone SVG picture of the graph."""
    names = _nodes(topology)
    pairs = [(_producer(edge), _consumer(edge)) for edge in topology.edges]
    level = _levels(names, pairs)
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(level[name], []).append(name)
    position: dict[str, tuple[float, float]] = {}
    for column, members in columns.items():
        for row, name in enumerate(members):
            position[name] = (_MARGIN + column * _COL_W, _MARGIN + 20 + row * _ROW_H)
    width = _MARGIN * 2 + (max(columns, default=0)) * _COL_W + _BOX_W
    height = _MARGIN * 2 + 20 + max((len(m) for m in columns.values()), default=1) * _ROW_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for number, edge in enumerate(topology.edges):
        sx, sy = position[_producer(edge)]
        tx, ty = position[_consumer(edge)]
        x1, y1 = sx + _BOX_W, sy + _BOX_H / 2
        x2, y2 = tx, ty + _BOX_H / 2
        if x2 <= x1:
            # Backwards or same column: loop below the boxes instead of crossing them.
            bend = 60 + 14 * (number % 4)
            path = f"M{x1},{y1} C{x1 + 80},{y1 + bend} {x2 - 80},{y2 + bend} {x2},{y2}"
            lx, ly = (x1 + x2) / 2, max(y1, y2) + bend * 0.75
        else:
            mid = (x1 + x2) / 2
            path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
            lx, ly = mid, (y1 + y2) / 2 - 6 + 12 * (number % 2)
        color = "#d32f2f" if edge.errors else "#555"
        dash = ' stroke-dasharray="5,4"' if edge.consumer is None else ""
        out.append(
            f'<g class="edge" data-producer={quoteattr(_producer(edge))} '
            f"data-consumer={quoteattr(_consumer(edge))} data-template={quoteattr(edge.template)}>"
            f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.5"{dash} '
            'marker-end="url(#arrow)"/>'
            f'<text x="{lx:.0f}" y="{ly:.0f}" text-anchor="middle" fill="{color}" '
            f'stroke="white" stroke-width="3" paint-order="stroke">'
            f"{escape(edge_label(edge, topology.seconds))}</text></g>"
        )
    for name in names:
        x, y = position[name]
        placeholder = name in (NOBODY, UNTRACED)
        fill = "#f5f5f5" if placeholder else "#e3f2fd"
        dash = ' stroke-dasharray="4,3"' if placeholder else ""
        out.append(
            f'<g class="node" data-name={quoteattr(name)}>'
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="8" '
            f'fill="{fill}" stroke="#1565c0"{dash}/>'
            f'<text x="{x + _BOX_W / 2}" y="{y + _BOX_H / 2 + 4}" text-anchor="middle" '
            f'font-weight="bold">{escape(name)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
