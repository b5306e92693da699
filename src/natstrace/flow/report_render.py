"""The orphans and slow-hops reports as JSON-ready dicts and as terminal tables."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from natstrace.flow.flow_terminal import format_duration
from natstrace.flow.orphans import OrphanReport
from natstrace.flow.slow import SlowHop, SlowReport

__all__ = ["orphans_tables", "orphans_to_dict", "slow_tables", "slow_to_dict"]


def _add_trace_column(table: Table, header: str) -> None:
    # A trace ID is copied into a trace viewer: never cut or wrapped, the other
    # columns give way on a narrow terminal.
    table.add_column(header, no_wrap=True, min_width=32)


def orphans_to_dict(report: OrphanReport) -> dict[str, Any]:
    """The orphans report as plain data (``natstrace orphans --format json``)."""
    return {
        "sends_checked": report.sends_checked,
        "sends_too_recent": report.sends_too_recent,
        "orphans": [
            {
                "service": group.service,
                "template": group.template,
                "count": group.count,
                "sample_trace_id": group.sample.trace_id,
                "sample_span_id": group.sample.span_id,
                "sample_subject": group.sample.subject,
                "first_unix_nano": group.first_ns,
                "last_unix_nano": group.last_ns,
            }
            for group in report.groups
        ],
        "quiet_subscriptions": [
            {"service": q.service, "template": q.template, "last_unix_nano": q.last_seen_ns}
            for q in report.quiet
        ],
        "note": report.note,
    }


def orphans_tables(report: OrphanReport) -> list[RenderableType]:
    """The orphans report for a terminal: sends never processed, silent subscriptions."""
    table = Table(title=f"sent, never processed ({report.sends_checked} sends checked)")
    for column in ("service", "subject template", "count"):
        table.add_column(column)
    _add_trace_column(table, "sample trace")
    for group in report.groups:
        table.add_row(group.service, group.template, str(group.count), group.sample.trace_id)
    renderables: list[RenderableType] = [table]
    if report.sends_too_recent:
        renderables.append(
            Text(
                f"not judged yet: {report.sends_too_recent} newer send(s); the source is "
                "still being written and their consumers may still be at work (--grace)",
                style="yellow",
            )
        )
    if report.quiet:
        quiet = Table(title="subscriptions silent in the window")
        quiet.add_column("service")
        quiet.add_column("subject template")
        for item in report.quiet:
            quiet.add_row(item.service, item.template)
        renderables.append(quiet)
    renderables.append(Text(f"note: {report.note}", style="dim"))
    return renderables


def _hop_row(hop: SlowHop) -> dict[str, Any]:
    latency = hop.delivery_latency_ns
    return {
        "service": hop.consumer.service,
        "from_service": hop.producer.service if hop.producer else None,
        "template": hop.consumer.template,
        "duration_ms": round(hop.consumer.duration_ns / 1e6, 3),
        "delivery_latency_ms": None if latency is None else round(latency / 1e6, 3),
        "delivery_count": hop.consumer.delivery_count,
        "failed": hop.consumer.failed,
        "trace_id": hop.consumer.trace_id,
        "span_id": hop.consumer.span_id,
        "correlation_id": hop.consumer.conversation_id,
    }


def slow_to_dict(report: SlowReport) -> dict[str, Any]:
    """The slow-hops report as plain data (``natstrace slow --format json``)."""
    return {
        "hops_checked": report.hops_checked,
        "slowest": [_hop_row(hop) for hop in report.slowest],
        "longest_latency": [_hop_row(hop) for hop in report.longest_latency],
    }


def slow_tables(report: SlowReport) -> list[Table]:
    """The slowest hops by handling time and by delivery latency, as two tables."""
    tables = []
    for title, hops, measure in (
        ("slowest hops (handling time)", report.slowest, "duration"),
        ("longest delivery latencies", report.longest_latency, "latency"),
    ):
        table = Table(title=f"{title}, of {report.hops_checked} hops")
        for column in (measure, "from", "to", "subject template", "delivery"):
            table.add_column(column)
        _add_trace_column(table, "trace")
        for hop in hops:
            value = hop.consumer.duration_ns if measure == "duration" else hop.delivery_latency_ns
            table.add_row(
                format_duration(value or 0),
                hop.producer.service if hop.producer else "?",
                hop.consumer.service,
                hop.consumer.template,
                str(hop.consumer.delivery_count),
                hop.consumer.trace_id,
                style="red" if hop.consumer.failed else None,
            )
        tables.append(table)
    return tables
