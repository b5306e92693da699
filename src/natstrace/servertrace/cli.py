"""``natstrace server-trace``: arguments only; the work is in :mod:`.service`."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict

from natstrace.servertrace.service import EXPORTERS, build_exporter, serve

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``server-trace`` options to ``parser``."""
    parser.add_argument(
        "--server",
        default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS URL (default: $NATS_URL or nats://127.0.0.1:4222)",
    )
    parser.add_argument(
        "--subject",
        default="natstrace.servertrace",
        help="trace destination to listen on, wildcards allowed (default: natstrace.servertrace)",
    )
    parser.add_argument(
        "--exporter",
        choices=sorted(EXPORTERS),
        default="otlp",
        help="where spans go; otlp reads OTEL_EXPORTER_OTLP_* (default: otlp)",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for a message's missing hops"
    )
    parser.add_argument(
        "--max-pending", type=int, default=10_000, help="open messages held at most"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on 127.0.0.1:PORT"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: never)"
    )


async def run(args: argparse.Namespace) -> int:
    """Run the collector with the parsed ``args``; print the final counters to stderr."""
    stats = await serve(
        args.server,
        args.subject,
        build_exporter(args.exporter),
        timeout=args.timeout,
        max_pending=args.max_pending,
        metrics_port=args.metrics_port,
        duration=args.duration,
    )
    summary = " ".join(f"{key}={value}" for key, value in asdict(stats).items())
    print(f"server-trace stopped: {summary}", file=sys.stderr)
    return 0
