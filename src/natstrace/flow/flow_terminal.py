"""A workflow as a terminal tree (rich): one line per hop."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from natstrace.flow.tree import Flow, FlowNode

__all__ = [
    "NEGATIVE_OFFSET_NOTE",
    "flow_legend",
    "format_duration",
    "print_flow",
    "render_flow_tree",
]


def format_duration(nanos: int) -> str:
    """``850µs``, ``12.3ms``, ``4.20s``: short, and readable at a glance."""
    if abs(nanos) < 1_000_000:
        return f"{nanos / 1000:.0f}µs"
    if abs(nanos) < 1_000_000_000:
        return f"{nanos / 1e6:.1f}ms"
    return f"{nanos / 1e9:.2f}s"


def _label(node: FlowNode) -> Text:
    span = node.span
    text = Text()
    text.append(span.service, style="bold cyan")
    operation = span.operation_type or span.kind.name.lower()
    text.append(f"  {operation} ", style="magenta" if span.is_process else "green")
    text.append(span.template, style="bold")
    if node.producer is not None and node.producer.service != span.service:
        text.append(f"  ({node.producer.service} -> {span.service})", style="dim")
    sign = "-" if node.offset_ns < 0 else "+"
    text.append(f"  {sign}{format_duration(abs(node.offset_ns))}", style="dim")
    text.append(f"  {format_duration(span.duration_ns)}")
    if node.delivery_latency_ns is not None:
        text.append(f"  latency {format_duration(node.delivery_latency_ns)}", style="yellow")
    if span.is_process and span.delivery_count > 1:
        text.append(f"  delivery #{span.delivery_count}", style="bold yellow")
    if node.settlement:
        text.append(f"  {node.settlement}", style="red" if node.settlement != "ack" else "green")
    if node.cause in ("link", "message", "causation"):
        text.append(f"  [{node.cause}]", style="dim")
    if span.failed or span.error_type is not None:
        message = span.error_message
        text.append(f"  ERROR {span.error_type}", style="bold red")
        if message:
            text.append(f": {message}", style="red")
    return text


def render_flow_tree(flow: Flow) -> Tree:
    """The workflow as a :class:`rich.tree.Tree`."""
    title = Text()
    title.append(f"workflow {flow.correlation_id}", style="bold")
    errors = f", {flow.errors} error(s)" if flow.errors else ""
    title.append(
        f"  {len(flow.trace_ids)} trace(s), {len(flow.services)} service(s), "
        f"{len(flow.spans)} span(s){errors}, {format_duration(flow.end_ns - flow.start_ns)}",
        style="red" if flow.errors else "dim",
    )
    tree = Tree(title)
    # Iterative, not recursive: a long redelivery chain must not hit the recursion limit.
    stack: list[tuple[Tree, FlowNode]] = [(tree, root) for root in reversed(flow.roots)]
    while stack:
        branch, node = stack.pop()
        child_branch = branch.add(_label(node))
        stack.extend((child_branch, child) for child in reversed(node.children))
    return tree


NEGATIVE_OFFSET_NOTE = (
    "a negative offset (-) is a receive that began waiting before the workflow's first "
    "message was sent: a JetStream fetch long-polls, and this one returned that message"
)
"""Why an offset can be negative; shown under a tree that has one."""


def flow_legend(flow: Flow) -> Text | None:
    """The notes a reader needs for this tree (negative offsets), or ``None``."""
    if not any(node.offset_ns < 0 for _, node in flow.walk()):
        return None
    return Text(f"note: {NEGATIVE_OFFSET_NOTE}", style="dim")


def print_flow(flow: Flow, console: Console | None = None) -> None:
    """Print the tree to ``console`` (default: standard output), and its legend."""
    console = console or Console()
    console.print(render_flow_tree(flow))
    legend = flow_legend(flow)
    if legend is not None:
        console.print(legend)
