"""The demo's last words: where everything is, and one workflow as the flow tool shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from natstrace.demo.progress import Counts
from natstrace.demo.telemetry import TraceTarget
from natstrace.flow import (
    DEFAULT_TRACE_FILE,
    FlowError,
    Span,
    find_orphans,
    read_files,
    reconstruct_flow,
    render_flow_tree,
)

__all__ = ["RunSummary", "print_report"]


@dataclass
class RunSummary:
    """What the runner hands to the report."""

    target: TraceTarget
    counts: Counts
    metrics: dict[str, str] = field(default_factory=dict)
    """Service name to metrics URL."""
    nats_url: str = ""
    embedded: bool = True
    outcome: str = "finished"


def _flow_command(correlation_id: str, target: TraceTarget) -> str:
    if target.file is None:
        return f"natstrace flow {correlation_id} --jaeger http://localhost:16686"
    where = "" if target.file == Path(DEFAULT_TRACE_FILE) else f" -f {target.file}"
    return f"natstrace flow {correlation_id}{where}"


def _pick(counts: Counts, spans: list[Span]) -> str | None:
    # The most instructive workflow first: a compensated saga, then a redelivery.
    for candidate in (counts.first_compensated, counts.first_redelivered):
        if candidate:
            return candidate
    return next((s.conversation_id for s in spans if s.conversation_id), None)


def _print_workflow(console: Console, summary: RunSummary) -> None:
    target, counts = summary.target, summary.counts
    if target.file is None:
        for candidate in (counts.first_compensated, counts.first_redelivered):
            if candidate:
                console.print(f"  see a workflow: {_flow_command(candidate, target)}")
        return
    try:
        spans = read_files([target.file]).spans
    except FlowError as exc:
        console.print(f"  (no workflow to show: {exc})")
        return
    chosen = _pick(counts, spans)
    if chosen is None:
        console.print("  (no workflow to show: no spans carry a correlation ID)")
        return
    why = " (its payment was declined: the saga compensated)"
    why = why if chosen == counts.first_compensated else ""
    console.print(f"\n[bold]One workflow[/bold], {chosen}{why}:")
    try:
        console.print(render_flow_tree(reconstruct_flow(spans, chosen)))
    except FlowError as exc:
        console.print(f"  ({exc})")
    if counts.first_redelivered and counts.first_redelivered != chosen:
        console.print(
            "\nA shipment redelivered by JetStream: "
            f"{_flow_command(counts.first_redelivered, target)}"
        )
    orphans = find_orphans(spans, grace_ns=0)
    for group in orphans.groups:
        console.print(
            f"Never consumed: {group.template} from {group.service}, {group.count} message(s) "
            "(natstrace orphans)"
        )


def print_report(console: Console, summary: RunSummary) -> None:
    """Print where traces and metrics are, then one workflow."""
    counts, target = summary.counts, summary.target
    console.print(
        f"\n[bold]Demo {summary.outcome}[/bold]: {counts.placed} orders placed, "
        f"{counts.completed} completed, {counts.cancelled} cancelled "
        f"(compensated), {counts.redeliveries} shipment redeliveries."
    )
    if target.file is not None:
        console.print(f"Traces: {target.file} (OTLP JSON lines; natstrace flow/orphans/topology)")
    if target.otlp_endpoint is not None:
        console.print(f"Traces: OTLP to {target.otlp_endpoint}")
    if summary.metrics:
        console.print("Metrics (Prometheus, served while the demo ran):")
        for service, url in summary.metrics.items():
            console.print(f"  {service:<13}{url}")
    _print_workflow(console, summary)
    source = f"--file {target.file}" if target.file else "--jaeger http://localhost:16686"
    console.print(f"\nBrowse every workflow, the topology and orphans: natstrace ui {source}")
