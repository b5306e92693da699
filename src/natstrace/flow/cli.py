"""``natstrace flow|orphans|topology|slow``: arguments only; the work is in the library.

Each ``add_*_arguments`` fills a subcommand's parser and each ``run_*`` takes the
parsed namespace and returns the exit status: 0 done, 1 nothing found (no spans
for the correlation ID, or none in the sources), 2 bad input (an unreadable file,
Jaeger down or answering an error, a bad time). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from natstrace.flow.errors import FlowError, NoSpansError
from natstrace.flow.flow_html import render_flow_html
from natstrace.flow.flow_json import flow_to_dict
from natstrace.flow.flow_terminal import print_flow
from natstrace.flow.orphans import find_orphans
from natstrace.flow.report_render import (
    orphans_tables,
    orphans_to_dict,
    slow_tables,
    slow_to_dict,
)
from natstrace.flow.sequence import build_sequence, render_sequence_mermaid
from natstrace.flow.slow import find_slow
from natstrace.flow.sources import DEFAULT_TRACE_FILE, SourceOptions, load_spans
from natstrace.flow.spanset import SpanSet
from natstrace.flow.topology import build_topology
from natstrace.flow.topology_render import (
    render_dot,
    render_mermaid,
    render_svg,
    topology_to_dict,
)
from natstrace.flow.window import TimeWindow
from natstrace.flow.workflow import reconstruct_flow

__all__ = [
    "add_flow_arguments",
    "add_orphans_arguments",
    "add_slow_arguments",
    "add_source_arguments",
    "add_topology_arguments",
    "run_flow",
    "run_orphans",
    "run_slow",
    "run_topology",
]


def add_source_arguments(parser: argparse.ArgumentParser, *, follow: bool = False) -> None:
    """Add the span-source arguments (``--file``, ``--jaeger``, ``--service``,
    ``--since``, ``--timeout``) shared by the flow tools and ``natstrace ui``.

    ``follow``: the source is followed as it grows (``natstrace ui``), so ``--since``
    is how far back to look and there is no ``--until``; else they bound a window.
    """
    source = parser.add_argument_group("span source")
    source.add_argument(
        "--file",
        "-f",
        dest="files",
        action="append",
        default=[],
        metavar="PATH",
        help=f"OTLP JSON lines file{' to follow' if follow else ''}, repeatable "
        f"(default: ./{DEFAULT_TRACE_FILE})",
    )
    source.add_argument(
        "--jaeger",
        metavar="URL",
        help=f"{'poll' if follow else 'read from'} Jaeger's query API, e.g. http://localhost:16686",
    )
    source.add_argument(
        "--service",
        dest="services",
        action="append",
        default=[],
        help="Jaeger: search this service, repeatable (default: every service)",
    )
    if follow:
        source.add_argument(
            "--since",
            default="1h",
            help="Jaeger: how far back to look, e.g. 15m, 2h (default: 1h)",
        )
    else:
        source.add_argument(
            "--since",
            help="window start: 15m, 2h, 1d ago, or an RFC 3339 time (Jaeger default: 1h)",
        )
        source.add_argument("--until", help="window end, same forms (default: now)")
    source.add_argument(
        "--timeout", type=float, default=10.0, help="Jaeger: seconds per request (default: 10)"
    )


def _add_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", "-o", metavar="PATH", help="write to this file instead of standard output"
    )


def add_flow_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``flow`` arguments: a correlation ID, a source and an output format."""
    parser.add_argument("correlation_id", help="the workflow's Correlation-Id")
    parser.add_argument(
        "--format",
        choices=("tree", "json", "html", "mermaid"),
        default="tree",
        help="tree (terminal), json, a self-contained html timeline, or a mermaid "
        "sequence diagram (default: tree)",
    )
    _add_output_argument(parser)
    add_source_arguments(parser)


def add_orphans_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``orphans`` arguments."""
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="while the source is still being written (a file a natstrace exporter holds "
        "open, or Jaeger): sends this many seconds before reading are not judged yet "
        "(default: 5)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (tables) or json (default: text)",
    )
    _add_output_argument(parser)
    add_source_arguments(parser)


def add_topology_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``topology`` arguments."""
    parser.add_argument(
        "--format",
        choices=("mermaid", "dot", "svg", "json"),
        default="mermaid",
        help="mermaid (paste into Markdown), dot (Graphviz), svg (a picture) or json "
        "(default: mermaid)",
    )
    _add_output_argument(parser)
    add_source_arguments(parser)


def add_slow_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``slow`` arguments."""
    parser.add_argument("--limit", type=int, default=10, help="rows per table (default: 10)")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (tables) or json (default: text)",
    )
    _add_output_argument(parser)
    add_source_arguments(parser)


def _window(args: argparse.Namespace) -> TimeWindow:
    return TimeWindow.parse(args.since, args.until)


def _load(args: argparse.Namespace, window: TimeWindow) -> SpanSet:
    spans = load_spans(
        SourceOptions(
            files=args.files,
            jaeger_url=args.jaeger,
            services=args.services,
            window=window,
            timeout=args.timeout,
        )
    )
    warning = spans.warning()
    if warning:
        print(f"natstrace: warning: {warning}", file=sys.stderr)
    if not spans.spans:
        raise NoSpansError("the source holds no spans")
    return spans


def _emit(args: argparse.Namespace, text: str) -> None:
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


# Wide enough that a hop or a table row is never split when the output goes to a
# file or a pipe (grep, less, a ticket): only a terminal wraps at its own width.
_UNWRAPPED_WIDTH = 100_000


@contextmanager
def _console(args: argparse.Namespace) -> Iterator[Console]:
    if args.output:
        with Path(args.output).open("w", encoding="utf-8") as handle:
            yield Console(file=handle, no_color=True, width=_UNWRAPPED_WIDTH)
        return
    console = Console()
    yield console if console.is_terminal else Console(width=_UNWRAPPED_WIDTH)


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except NoSpansError as exc:
            print(f"natstrace: {exc}", file=sys.stderr)
            return 1
        except (FlowError, ValueError, OSError) as exc:
            print(f"natstrace: error: {exc}", file=sys.stderr)
            return 2

    wrapper.__name__ = run.__name__
    wrapper.__doc__ = run.__doc__
    return wrapper


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


@_guarded
def run_flow(args: argparse.Namespace) -> int:
    """Print one workflow as a tree, JSON or an HTML page."""
    window = _window(args)
    flow = reconstruct_flow(_load(args, window).spans, args.correlation_id)
    if args.format == "json":
        _emit(args, _json(flow_to_dict(flow)))
    elif args.format == "html":
        _emit(args, render_flow_html(flow))
    elif args.format == "mermaid":
        _emit(args, render_sequence_mermaid(build_sequence(flow)))
    else:
        with _console(args) as console:
            print_flow(flow, console)
    return 0


@_guarded
def run_orphans(args: argparse.Namespace) -> int:
    """List sends nobody processed, by service and subject template."""
    window = _window(args)
    spans = _load(args, window)
    report = find_orphans(
        spans.spans,
        window,
        grace_ns=int(args.grace * 1e9),
        read_at_ns=spans.read_at_ns if spans.still_written else None,
    )
    if args.format == "json":
        _emit(args, _json(orphans_to_dict(report)))
        return 0
    with _console(args) as console:
        for renderable in orphans_tables(report):
            console.print(renderable)
    return 0


@_guarded
def run_topology(args: argparse.Namespace) -> int:
    """Print the service graph as Mermaid, DOT, SVG or JSON."""
    window = _window(args)
    topology = build_topology(_load(args, window).spans, window)
    renderers: dict[str, Callable[[], str]] = {
        "mermaid": lambda: render_mermaid(topology),
        "dot": lambda: render_dot(topology),
        "svg": lambda: render_svg(topology),
        "json": lambda: _json(topology_to_dict(topology)),
    }
    _emit(args, renderers[args.format]())
    return 0


@_guarded
def run_slow(args: argparse.Namespace) -> int:
    """Print the slowest hops and the longest delivery latencies."""
    window = _window(args)
    report = find_slow(_load(args, window).spans, window, limit=args.limit)
    if args.format == "json":
        _emit(args, _json(slow_to_dict(report)))
        return 0
    with _console(args) as console:
        for table in slow_tables(report):
            console.print(table)
    return 0
