"""The ``natstrace`` command: parses arguments and calls the library, nothing else."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from natstrace.demo import DemoOptions, run_demo
from natstrace.demo.options import DEFAULT_ORDERS
from natstrace.flow import DEFAULT_TRACE_FILE
from natstrace.flow import cli as flow_cli
from natstrace.servertrace import cli as server_trace_cli
from natstrace.ui import cli as ui_cli

__all__ = ["main"]


def _add_demo_arguments(demo: argparse.ArgumentParser) -> None:
    demo.add_argument(
        "--orders",
        "--messages",
        dest="orders",
        type=int,
        help=f"orders to place; 0 runs until Ctrl-C (default: {DEFAULT_ORDERS}, "
        "or unbounded with --duration)",
    )
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    demo.add_argument(
        "--interval", type=float, default=0.1, help="seconds between orders (default: 0.1)"
    )
    demo.add_argument("--nats-url", help="use this NATS server instead of an embedded one")
    demo.add_argument(
        "--trace-file",
        help=f"OTLP JSON lines file for the spans (default: ./{DEFAULT_TRACE_FILE}, "
        "or none when OTEL_EXPORTER_OTLP_ENDPOINT is set)",
    )
    demo.add_argument(
        "--metrics-port",
        type=int,
        help="first metrics port: orders on it, payments, inventory, shipping and "
        "orchestrator on the next four (default: free ports)",
    )
    demo.add_argument(
        "--metrics-addr", default="localhost", help="address metrics bind to (default: localhost)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="natstrace", description="Tracing toolkit for event-driven systems on NATS."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo_help = "run a traced order workflow, one process per service, and show one workflow"
    demo = commands.add_parser(
        "demo",
        help=demo_help,
        description=f"{demo_help[0].upper()}{demo_help[1:]}: an embedded nats-server, five "
        "services (orders, payments, inventory, shipping, an orchestrator), spans to "
        f"./{DEFAULT_TRACE_FILE} for the flow tools and metrics for Prometheus.",
    )
    _add_demo_arguments(demo)

    flow_commands = {
        "flow": ("one workflow across services, by correlation ID", flow_cli.add_flow_arguments),
        "orphans": ("messages sent but never processed", flow_cli.add_orphans_arguments),
        "topology": ("the service/subject graph", flow_cli.add_topology_arguments),
        "slow": ("slowest hops and delivery latencies", flow_cli.add_slow_arguments),
    }
    for name, (help_text, add_arguments) in flow_commands.items():
        add_arguments(commands.add_parser(name, help=help_text, description=help_text))

    server_trace = commands.add_parser(
        "server-trace",
        help="turn nats-server message-trace events into spans",
        description="Subscribe to the subject nats-server sends its message-trace events "
        "to, and export each traced message's server hops as spans in the publisher's "
        "trace (to --exporter; OTLP by default, configured by the OTEL_* variables).",
    )
    server_trace_cli.add_arguments(server_trace)

    ui_help = "a local web console: workflows, sequence diagrams, topology, orphans, slow hops"
    ui_cli.add_arguments(commands.add_parser("ui", help=ui_help, description=ui_help))
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
                orders=args.orders,
                duration=args.duration,
                interval=args.interval,
                nats_url=args.nats_url,
                trace_file=args.trace_file,
                metrics_port=args.metrics_port,
                metrics_addr=args.metrics_addr,
            )
            return asyncio.run(run_demo(options))
        if args.command == "ui":
            return ui_cli.run(args)
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
