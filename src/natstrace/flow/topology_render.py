"""Render a :class:`~.topology.Topology` as Mermaid, Graphviz DOT, SVG or JSON.

The SVG is drawn here, on a layered layout (:mod:`.layout`), so that a picture
needs no Graphviz installation; the DOT text is there for anyone who has one.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from natstrace.flow.flow_terminal import format_duration
from natstrace.flow.layout import Layout, Point, layered_layout, text_width
from natstrace.flow.topology import Edge, Topology, percentile

__all__ = [
    "NOBODY",
    "UNTRACED",
    "edge_label",
    "render_dot",
    "render_mermaid",
    "render_svg",
    "topology_layout",
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


def _edge_stats(edge: Edge, seconds: float) -> list[str]:
    parts = [f"{edge.rate(seconds):.3g}/s"]
    if edge.deliveries:
        parts.append(f"{edge.error_ratio:.0%} err")
    p95 = percentile(edge.latencies_ns, 0.95)
    if p95 is not None:
        parts.append(f"p95 {format_duration(p95)}")
    return parts


def edge_label(edge: Edge, seconds: float) -> str:
    """``orders.created · 2.0/s · 5% err · p95 3.1ms``: what every format shows."""
    return " · ".join([edge.template, *_edge_stats(edge, seconds)])


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


_FONT = 12.0
_SERVICE_H, _MESSAGE_H, _PAD = 34.0, 40.0, 12.0
_SERVICE, _MESSAGE = "service", "message"


def _service_key(name: str) -> str:
    return f"{_SERVICE}:{name}"


def topology_layout(topology: Topology) -> Layout:
    """Boxes for the services and one box per edge (its subject template and
    numbers), so that no label ever sits on a line: service -> message -> service.
    Box names are ``service:NAME`` and ``message:INDEX`` (the edge's index)."""
    sizes: dict[str, tuple[float, float]] = {}
    for name in _nodes(topology):
        sizes[_service_key(name)] = (text_width(name, _FONT + 1, bold=True) + 2 * _PAD, _SERVICE_H)
    pairs: list[tuple[str, str]] = []
    for number, edge in enumerate(topology.edges):
        stats = " · ".join(_edge_stats(edge, topology.seconds))
        wide = max(text_width(edge.template, _FONT, bold=True), text_width(stats, _FONT - 1))
        key = f"{_MESSAGE}:{number}"
        sizes[key] = (wide + 2 * _PAD, _MESSAGE_H)
        pairs.append((_service_key(_producer(edge)), key))
        pairs.append((key, _service_key(_consumer(edge))))
    return layered_layout(sizes, pairs, first=[_service_key(n) for n in _starters(topology)])


def _starters(topology: Topology) -> list[str]:
    """Where flows start: services that send at least twice as many messages as they
    receive (in a cycle such as orders -> orchestrator -> orders, the one placing
    orders), else the one that sends the most per message received."""
    sent: dict[str, int] = {}
    received: dict[str, int] = {}
    for edge in topology.edges:
        sent[_producer(edge)] = sent.get(_producer(edge), 0) + edge.messages
        received[_consumer(edge)] = received.get(_consumer(edge), 0) + edge.messages
    ratios = {name: count / max(received.get(name, 0), 1) for name, count in sent.items()}
    starters = [name for name, ratio in ratios.items() if ratio >= 2]
    return starters or ([max(ratios, key=lambda name: ratios[name])] if ratios else [])


def _path(points: list[Point]) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def render_svg(topology: Topology) -> str:
    """A standalone SVG picture of the graph, laid out by :func:`topology_layout`."""
    layout = topology_layout(topology)
    width, height = round(layout.width), round(layout.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{_FONT:g}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for number, edge in enumerate(topology.edges):
        box = layout.boxes[f"{_MESSAGE}:{number}"]
        color = "#c62828" if edge.errors else "#455a64"
        dash = ' stroke-dasharray="5,4"' if edge.consumer is None else ""
        lines = "".join(
            f'<path class="arrow" d="{_path(layout.routes[2 * number + part])}" fill="none" '
            f'stroke="{color}" stroke-width="1.5"{dash} marker-end="url(#arrow)"/>'
            for part in (0, 1)
        )
        cx = box.x + box.width / 2
        stats = " · ".join(_edge_stats(edge, topology.seconds))
        out.append(
            f'<g class="edge" data-producer={quoteattr(_producer(edge))} '
            f"data-consumer={quoteattr(_consumer(edge))} data-template={quoteattr(edge.template)}>"
            f"{lines}"
            f'<rect class="box" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="4" fill="#fffdf5" stroke="{color}"{dash}/>'
            f'<text x="{cx:.1f}" y="{box.y + 16:.1f}" text-anchor="middle" font-weight="bold">'
            f"{escape(edge.template)}</text>"
            f'<text x="{cx:.1f}" y="{box.y + 32:.1f}" text-anchor="middle" '
            f'font-size="{_FONT - 1:g}" fill="{color}">{escape(stats)}</text></g>'
        )
    for name in _nodes(topology):
        box = layout.boxes[_service_key(name)]
        placeholder = name in (NOBODY, UNTRACED)
        fill = "#f5f5f5" if placeholder else "#e3f2fd"
        dash = ' stroke-dasharray="4,3"' if placeholder else ""
        out.append(
            f'<g class="node" data-name={quoteattr(name)}>'
            f'<rect class="box" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="8" fill="{fill}" stroke="#1565c0"{dash}/>'
            f'<text x="{box.x + box.width / 2:.1f}" y="{box.y + box.height / 2 + 4.5:.1f}" '
            f'text-anchor="middle" font-weight="bold" font-size="{_FONT + 1:g}">'
            f"{escape(name)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
