"""Child processes of the demo: start, wait until ready, stop, and never leave one behind.

Each child runs ``python -m natstrace.demo.<module>`` in a new session (so only
the supervisor sees the terminal's Ctrl-C), with standard input a pipe from the
supervisor (closing it, or the supervisor dying, stops the child), standard
output the ``ready`` handshake, and standard error a log file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Child", "ChildFailedError"]

READY_TIMEOUT = 20.0
"""Seconds a child may take to import, connect and subscribe."""
STOP_TIMEOUT = 8.0
"""Seconds a child may take to drain and flush its spans before it is killed."""


class ChildFailedError(RuntimeError):
    """A child exited or never became ready; the message ends with its log's tail."""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Child:
    """One demo process.

    Args:
        name: for messages (``payments``, ``nats-server``).
        module: the module run with ``python -m``.
        args: its arguments.
        log_dir: where ``{name}.log`` (its standard error) goes.
    """

    def __init__(self, name: str, module: str, args: Sequence[str], log_dir: Path) -> None:
        self.name = name
        self.argv = [sys.executable, "-m", module, *args, "--stop-on-stdin-eof"]
        self.log_path = log_dir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}

    @property
    def pid(self) -> int | None:
        """The process ID once started."""
        return self.process.pid if self.process is not None else None

    def log_tail(self) -> str:
        """The last lines of its log."""
        return _tail(self.log_path)

    async def start(self) -> None:
        """Start the process (not waiting for it to be ready)."""
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    async def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """Read the child's ``ready`` line.

        Raises:
            ChildFailedError: it exited or said nothing within ``timeout``.
        """
        assert self.process is not None and self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise ChildFailedError(
                f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}"
            ) from None
        try:
            self.ready = json.loads(line) if line else {}
        except ValueError:
            self.ready = {}
        if not self.ready.get("ready"):
            raise ChildFailedError(f"{self.name} failed to start:\n{self.log_tail()}")
        return self.ready

    async def wait_exit(self) -> int:
        """Wait until the process exits; its exit status."""
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and close its standard input, wait, then SIGKILL if it is still there."""
        process = self.process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        if process.stdin is not None:
            process.stdin.close()
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            self.kill()
            return await process.wait()

    def kill(self) -> None:
        """SIGKILL the process (a second Ctrl-C, or a child that will not stop)."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
