"""Layered graph layout: positions for boxes and routes for the arrows between them.

The Sugiyama layered layout of ``grandalf`` (the algorithm Graphviz's ``dot``
uses: cycle breaking, layering, crossing reduction, Brandes-Köpf placement) does
the work; this module only hands it box sizes, turns its top-to-bottom drawing
into a left-to-right one, and places disconnected parts one under the other. The
CLI's SVG and the web console draw from the same :class:`Layout`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grandalf.graphs import Edge as _GEdge  # type: ignore[import-untyped]
from grandalf.graphs import Graph as _GGraph
from grandalf.graphs import Vertex as _GVertex
from grandalf.layouts import SugiyamaLayout  # type: ignore[import-untyped]
from grandalf.routing import EdgeViewer, route_with_lines  # type: ignore[import-untyped]

__all__ = ["Layout", "Point", "Rect", "layered_layout", "text_width"]

Point = tuple[float, float]

_COMPONENT_GAP = 40.0
"""Space between parts of the graph that share no edge."""


def text_width(text: str, font_size: float = 12.0, *, bold: bool = False) -> float:
    """A generous estimate of the width of ``text`` in a sans-serif font: the
    layout has no font metrics, and a box a little too wide reads better than
    text that runs over its edge."""
    return len(text) * font_size * (0.64 if bold else 0.6)


@dataclass(frozen=True, slots=True)
class Rect:
    """A placed box: top-left corner and size."""

    x: float
    y: float
    width: float
    height: float

    @property
    def center(self) -> Point:
        """The middle of the box."""
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every box goes and the polyline of every edge, in input order."""

    boxes: dict[str, Rect]
    routes: list[list[Point]]
    width: float
    height: float


class _View:
    """The size grandalf reads and the centre it writes (``w``, ``h``, ``xy``)."""

    def __init__(self, w: float, h: float) -> None:
        self.w = w
        self.h = h
        self.xy: Point = (0.0, 0.0)


def layered_layout(
    sizes: Mapping[str, tuple[float, float]],
    edges: Sequence[tuple[str, str]],
    *,
    first: Sequence[str] = (),
    layer_gap: float = 56.0,
    node_gap: float = 24.0,
    margin: float = 20.0,
) -> Layout:
    """Lay out boxes of ``sizes`` (name -> (width, height)) left to right along
    ``edges`` (name pairs, both names in ``sizes``). In a cycle the names in
    ``first`` go leftmost, where the flow starts; the edges back into them are the
    ones drawn backwards."""
    vertices = {name: _GVertex(name) for name in sizes}
    for name, vertex in vertices.items():
        width, height = sizes[name]
        # grandalf layers top to bottom: hand it transposed boxes, transpose back.
        vertex.view = _View(height, width)
    graph_edges = []
    for source, target in edges:
        edge = _GEdge(vertices[source], vertices[target])
        edge.view = EdgeViewer()
        graph_edges.append(edge)
    graph = _GGraph(list(vertices.values()), [e for e in graph_edges if e.v[0] is not e.v[1]])
    boxes: dict[str, Rect] = {}
    offset_y = margin
    width = 0.0
    for component in graph.C:
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = node_gap, layer_gap
        layout.route_edge = route_with_lines
        roots = [v for v in component.sV if not v.e_in() or v.data in first]
        roots = roots or [next(iter(component.sV))]
        layout.init_all(roots=roots, inverted_edges=_feedback_edges(component, roots))
        layout.draw()
        placed = {v.data: _transposed(v.view) for v in component.sV}
        bends = [(y, x) for e in component.sE for x, y in getattr(e.view, "_pts", ())]
        left = min([r.x for r in placed.values()] + [x for x, _ in bends])
        top = min([r.y for r in placed.values()] + [y for _, y in bends])
        right = max([r.x + r.width for r in placed.values()] + [x for x, _ in bends])
        bottom = max([r.y + r.height for r in placed.values()] + [y for _, y in bends])
        for name, rect in placed.items():
            boxes[name] = Rect(
                rect.x - left + margin, rect.y - top + offset_y, rect.width, rect.height
            )
        for edge in component.sE:
            edge.view.offset = (margin - left, offset_y - top)
        width = max(width, right - left + margin)
        offset_y += bottom - top + _COMPONENT_GAP
    routes = [_route(edge, boxes) for edge in graph_edges]
    height = offset_y - _COMPONENT_GAP + margin if boxes else 2 * margin
    return Layout(boxes, routes, width + margin, height)


def _feedback_edges(component: Any, roots: list[Any]) -> list[Any]:
    """Edges to draw backwards so that the rest has no cycle and ``roots`` come first:
    every edge into a root, and the back edges of a depth-first search from them."""
    root_set = set(roots)
    inverted = [e for e in component.sE if e.v[1] in root_set]
    chosen = {id(e) for e in inverted}
    state: dict[Any, int] = {}  # 1: on the search path, 2: done
    for start in [*roots, *component.sV]:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(start.e_out()))]
        while stack:
            vertex, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                state[vertex] = 2
                stack.pop()
                continue
            target = edge.v[1]
            if id(edge) in chosen or target is vertex:
                continue
            if state.get(target) == 1:
                inverted.append(edge)
                chosen.add(id(edge))
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(target.e_out())))
    return inverted


def _transposed(view: _View) -> Rect:
    cy, cx = view.xy  # grandalf's x runs across layers; ours runs along them
    return Rect(cx - view.h / 2, cy - view.w / 2, view.h, view.w)


def _route(edge: Any, boxes: Mapping[str, Rect]) -> list[Point]:
    source, target = boxes[edge.v[0].data], boxes[edge.v[1].data]
    points = getattr(edge.view, "_pts", None)
    if edge.v[0] is edge.v[1] or not points:
        return [_side(source, target.center), _side(target, source.center)]
    dx, dy = edge.view.offset
    route = [(y + dx, x + dy) for x, y in points]
    # grandalf clipped the ends to the transposed boxes; clip them to the real ones.
    route[0] = _side(source, route[1] if len(route) > 2 else target.center)
    route[-1] = _side(target, route[-2] if len(route) > 2 else source.center)
    return route


def _side(box: Rect, toward: Point) -> Point:
    """Where the line from the box's centre toward ``toward`` leaves the box: the
    middle of its left or right side, since edges run left to right."""
    cx, cy = box.center
    return (box.x + box.width, cy) if toward[0] >= cx else (box.x, cy)
