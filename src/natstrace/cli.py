"""The ``natstrace`` command: parses arguments and calls the library, nothing else."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from natstrace.demo import DemoOptions, run_demo
from natstrace.flow import cli as flow_cli
from natstrace.servertrace import cli as server_trace_cli

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="natstrace", description="Tracing toolkit for event-driven systems on NATS."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run a traced order flow and print one workflow")
    demo.add_argument("--nats-url", help="use this NATS server instead of an embedded one")
    demo.add_argument(
        "--messages", type=int, default=3, help="orders to place; 0 runs until Ctrl-C (default: 3)"
    )
    demo.add_argument(
        "--interval", type=float, default=0.2, help="seconds between orders (default: 0.2)"
    )
    demo.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    demo.add_argument(
        "--metrics-addr",
        default="localhost",
        help="address for --metrics-port (default: localhost)",
    )

    flow_commands = {
        "flow": ("one workflow across services, by correlation ID", flow_cli.add_flow_arguments),
        "orphans": ("messages sent but never processed", flow_cli.add_orphans_arguments),
        "topology": ("the service/subject graph", flow_cli.add_topology_arguments),
        "slow": ("slowest hops and delivery latencies", flow_cli.add_slow_arguments),
    }
    for name, (help_text, add_arguments) in flow_commands.items():
        add_arguments(commands.add_parser(name, help=help_text, description=help_text))

    server_trace = commands.add_parser(
        "server-trace", help="turn nats-server message-trace events into spans"
    )
    server_trace_cli.add_arguments(server_trace)
    return parser


_FLOW_RUNNERS = {
    "flow": flow_cli.run_flow,
    "orphans": flow_cli.run_orphans,
    "topology": flow_cli.run_topology,
    "slow": flow_cli.run_slow,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``natstrace`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            options = DemoOptions(
                nats_url=args.nats_url,
                messages=args.messages,
                interval=args.interval,
                metrics_port=args.metrics_port,
                metrics_addr=args.metrics_addr,
            )
            return asyncio.run(run_demo(options))
        if args.command == "server-trace":
            return asyncio.run(server_trace_cli.run(args))
        return _FLOW_RUNNERS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"natstrace: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
