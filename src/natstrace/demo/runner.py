"""``natstrace demo``: the supervisor that runs the order workflow as separate processes.

It starts the embedded nats-server (unless given a URL), then inventory,
payments, shipping and the orchestrator, and once all of them are subscribed,
orders. It shows progress until the orders are done, the duration is up, or
Ctrl-C; then it stops orders first, the other services next (each drains and
flushes its spans) and the server last, and prints the report.

Ctrl-C once: a clean stop. Twice: every child is killed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from natstrace.demo.options import SERVICES, DemoOptions
from natstrace.demo.processes import Child, ChildFailedError
from natstrace.demo.progress import ProgressDisplay, Tally
from natstrace.demo.report import RunSummary, print_report
from natstrace.demo.telemetry import trace_target

__all__ = ["run_demo"]

T = TypeVar("T")

STALL_TIMEOUT = 20.0
"""Seconds without a finished saga after which a bounded run is declared stuck."""
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class _Stopped(Exception):
    """A stop was asked for (Ctrl-C, SIGTERM) while the demo was starting."""


class _Run:
    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.children: list[Child] = []
        self.stop = asyncio.Event()
        self.exit_code = 0
        self.outcome = "finished"
        self.tally = Tally()
        self.log_dir = Path(tempfile.mkdtemp(prefix="natstrace-demo-"))
        self.target = trace_target(options.trace_file)
        self.summary = RunSummary(self.target, self.tally.counts)

    # Signals ---------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        if self.stop.is_set():
            # Asked twice: stop waiting for anyone.
            for child in self.children:
                child.kill()
            return
        interrupted = signum == signal.SIGINT
        self.exit_code = EXIT_INTERRUPTED if interrupted else EXIT_TERMINATED
        self.outcome = "interrupted" if interrupted else "terminated"
        self.stop.set()

    async def _unless_stopped(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ChildFailedError):
            await task
        raise _Stopped

    # Start -----------------------------------------------------------------

    async def _start(self, name: str, module: str, args: list[str]) -> Child:
        child = Child(name, module, args, self.log_dir)
        self.children.append(child)
        await child.start()
        return child

    async def _start_server(self) -> str:
        if self.options.nats_url:
            self.summary.embedded = False
            return self.options.nats_url
        server = await self._start("nats-server", "natstrace.demo.nats_server", [])
        ready = await self._unless_stopped(server.wait_ready())
        return str(ready["url"])

    def _service_args(self, url: str, run_id: str, port: int) -> list[str]:
        options = self.options
        args = ["--nats-url", url, "--run-id", run_id, "--metrics-port", str(port)]
        args += ["--metrics-addr", options.metrics_addr]
        args += ["--orders", str(options.order_limit), "--interval", str(options.interval)]
        if self.target.file is not None:
            args += ["--trace-file", str(self.target.file.resolve())]
        return args

    def _ports(self) -> list[int]:
        base = self.options.metrics_port
        if base is not None:
            return [base + offset for offset in range(len(SERVICES))]
        # Each service binds a free port itself and reports it when ready: a port
        # chosen here could be taken (say, as a connection's local port) before
        # the service binds it.
        return [0 for _ in SERVICES]

    async def _start_services(self, url: str) -> None:
        run_id = secrets.token_hex(2)
        args = {
            name: self._service_args(url, run_id, port)
            for name, port in zip(SERVICES, self._ports(), strict=True)
        }
        # Everyone who consumes is subscribed before the first order exists.
        consumers = [
            await self._start(name, f"natstrace.demo.{name}", args[name])
            for name in SERVICES
            if name != "orders"
        ]
        await self._unless_stopped(asyncio.gather(*(c.wait_ready() for c in consumers)))
        await self._unless_stopped(self.tally.start(url))
        orders = await self._start("orders", "natstrace.demo.orders", args["orders"])
        await self._unless_stopped(orders.wait_ready())
        for name in SERVICES:
            child = next(c for c in self.children if c.name == name)
            self.summary.metrics[name] = str(child.ready.get("metrics", ""))

    # Run -------------------------------------------------------------------

    def _check_children(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.returncode is not None:
                raise ChildFailedError(
                    f"{child.name} exited ({child.process.returncode}):\n{child.log_tail()}"
                )

    async def _watch(self) -> None:
        limit = self.options.order_limit
        duration = self.options.duration
        started = last_change = time.monotonic()
        last_finished = -1
        with ProgressDisplay(self.console, limit or None) as display:
            while not self.stop.is_set():
                counts = self.tally.counts
                display.update(counts)
                now = time.monotonic()
                if counts.finished != last_finished:
                    last_finished, last_change = counts.finished, now
                if limit and counts.finished >= limit:
                    break
                if duration is not None and now - started >= duration:
                    self.outcome = f"stopped after {duration:g}s"
                    break
                if limit and now - last_change > STALL_TIMEOUT:
                    raise ChildFailedError(
                        f"no saga finished for {STALL_TIMEOUT:.0f}s; logs in {self.log_dir}"
                    )
                self._check_children()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), 0.1)
            display.update(self.tally.counts)

    # Stop ------------------------------------------------------------------

    async def _stop_all(self) -> None:
        by_name = {child.name: child for child in self.children}
        # No new orders first; then the services, which drain and flush; the server last.
        if "orders" in by_name:
            await by_name["orders"].stop()
        services = [c for c in self.children if c.name not in ("orders", "nats-server")]
        await asyncio.gather(*(child.stop() for child in services))
        if "nats-server" in by_name:
            await by_name["nats-server"].stop()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        if self.target.file is not None:
            # Each run starts the file afresh: the tools then see this run only.
            self.target.file.parent.mkdir(parents=True, exist_ok=True)
            self.target.file.write_text("")
        failed = False
        try:
            url = await self._start_server()
            self.summary.nats_url = url
            where = "embedded nats-server" if self.summary.embedded else "nats-server"
            self.console.print(f"natstrace demo: {where} at {url}")
            await self._start_services(url)
            self.console.print(
                f"{len(SERVICES)} services ready ({', '.join(SERVICES)}); placing orders. "
                "Ctrl-C stops."
            )
            await self._watch()
        except _Stopped:
            pass
        except ChildFailedError as exc:
            failed = True
            self.exit_code, self.outcome = 1, "failed"
            self.console.print(f"[red]natstrace demo: {exc}[/red]")
        finally:
            await self.tally.close()
            await self._stop_all()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        self.summary.outcome = self.outcome
        print_report(self.console, self.summary)
        if failed:
            self.console.print(f"Service logs: {self.log_dir}")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        return self.exit_code


async def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    """Run the demo until done, the duration is up, or Ctrl-C; returns the exit status."""
    return await _Run(options, console or Console()).run()
