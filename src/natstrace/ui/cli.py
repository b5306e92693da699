"""``natstrace ui``: arguments only; the console is :class:`~natstrace.ui.UiServer`."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from natstrace.flow.cli import add_source_arguments
from natstrace.flow.errors import FlowError
from natstrace.flow.sources import DEFAULT_TRACE_FILE
from natstrace.flow.window import parse_instant
from natstrace.ui.server import UiServer
from natstrace.ui.store import SourceConfig, SpanStore

__all__ = ["DEFAULT_PORT", "add_arguments", "run"]

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``ui`` arguments: where to listen, and the span source."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; anything not loopback needs "
        "--allow-remote)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="serve on a non-loopback address: everyone who reaches it sees your traces",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="re-read the file / poll Jaeger this often (default: 2)",
    )
    add_source_arguments(parser, follow=True)


def _config(args: argparse.Namespace) -> SourceConfig:
    if args.jaeger and args.files:
        raise ValueError("give trace files or --jaeger, not both")
    now = parse_instant("now")
    lookback = now - parse_instant(args.since, now)
    if lookback <= 0:
        raise ValueError(f"--since {args.since} must be a duration ago, such as 15m or 2h")
    files = [Path(name) for name in args.files or [DEFAULT_TRACE_FILE]]
    return SourceConfig(
        files=() if args.jaeger else files,
        jaeger_url=args.jaeger,
        services=args.services,
        lookback_ns=lookback,
        timeout=args.timeout,
    )


def run(args: argparse.Namespace) -> int:
    """Load the source, serve until Ctrl-C; 2 on bad arguments or an unusable source."""
    try:
        store = SpanStore(_config(args))
        server = UiServer(
            store, args.host, args.port, allow_remote=args.allow_remote,
            refresh_seconds=args.refresh,
        )  # fmt: skip
    except (ValueError, OSError) as exc:
        print(f"natstrace: error: {exc}", file=sys.stderr)
        return 2
    try:
        store.refresh()
        if store.error:
            print(f"natstrace: warning: {store.error} (retrying)", file=sys.stderr)
        with server:
            snapshot = store.snapshot
            print(
                f"natstrace ui: {len(snapshot.workflows)} workflow(s), {len(snapshot.spans)} "
                f"span(s) from {store.config.describe()}\nOpen {server.url}  (Ctrl-C stops)",
                flush=True,
            )
            threading.Event().wait()
    except FlowError as exc:
        print(f"natstrace: error: {exc}", file=sys.stderr)
        return 2
    return 0
