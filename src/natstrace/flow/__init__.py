"""Debug a workflow end to end: reconstruct it, find orphans, draw the topology.

Spans come from OTLP JSON lines files (what :class:`JsonLinesSpanExporter` and the
Collector's file exporter write) or from Jaeger's query API v3::

    from natstrace.flow import SourceOptions, load_spans, reconstruct_flow, print_flow

    spans = load_spans(SourceOptions(files=["natstrace-traces.jsonl"])).spans
    print_flow(reconstruct_flow(spans, "order-42"))

The same as commands: ``natstrace flow ID``, ``natstrace orphans``,
``natstrace topology``, ``natstrace slow`` (see docs/flow.md).
"""

from natstrace.flow.errors import FlowError, NoSpansError, SourceError
from natstrace.flow.file_source import read_files
from natstrace.flow.flow_html import render_flow_html
from natstrace.flow.flow_json import flow_to_dict
from natstrace.flow.flow_terminal import print_flow, render_flow_tree
from natstrace.flow.jaeger_source import JaegerClient
from natstrace.flow.jsonl_exporter import JsonLinesSpanExporter
from natstrace.flow.model import Span, SpanEvent, SpanKind, SpanLink, StatusCode
from natstrace.flow.orphans import OrphanReport, find_orphans
from natstrace.flow.slow import SlowReport, find_slow
from natstrace.flow.sources import DEFAULT_TRACE_FILE, SourceOptions, load_spans
from natstrace.flow.spanset import SpanSet
from natstrace.flow.topology import Topology, build_topology
from natstrace.flow.topology_render import render_dot, render_mermaid, render_svg
from natstrace.flow.tree import Flow, FlowNode
from natstrace.flow.window import TimeWindow
from natstrace.flow.workflow import reconstruct_flow

__all__ = [
    "DEFAULT_TRACE_FILE",
    "Flow",
    "FlowError",
    "FlowNode",
    "JaegerClient",
    "JsonLinesSpanExporter",
    "NoSpansError",
    "OrphanReport",
    "SlowReport",
    "SourceError",
    "SourceOptions",
    "Span",
    "SpanEvent",
    "SpanKind",
    "SpanLink",
    "SpanSet",
    "StatusCode",
    "TimeWindow",
    "Topology",
    "build_topology",
    "find_orphans",
    "find_slow",
    "flow_to_dict",
    "load_spans",
    "print_flow",
    "read_files",
    "reconstruct_flow",
    "render_dot",
    "render_flow_html",
    "render_flow_tree",
    "render_mermaid",
    "render_svg",
]
