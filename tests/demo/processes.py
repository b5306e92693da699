"""Run ``natstrace demo`` as a real process and watch every process it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent PID, state, start time) of ``pid``, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last one.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def _all_parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                parents[int(entry)] = found[0]
    return parents


@dataclass
class DemoProcess:
    """``natstrace demo`` running in a subprocess, and every descendant seen meanwhile."""

    process: subprocess.Popen[str]
    seen: dict[int, str] = field(default_factory=dict)
    """Descendant PID -> its start time (to tell it from a later process with the same PID)."""
    _done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(
        cls, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None
    ) -> DemoProcess:
        environ = {k: v for k, v in os.environ.items() if k not in ENDPOINT_VARIABLES}
        environ.update({"COLUMNS": "200", **(env or {})})
        process = subprocess.Popen(
            [sys.executable, "-m", "natstrace.cli", "demo", *args],
            cwd=cwd,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        demo = cls(process)
        threading.Thread(target=demo._watch, daemon=True).start()
        return demo

    def _watch(self) -> None:
        # The process tree changes as the demo starts and stops: poll it.
        while self.process.poll() is None:
            parents = _all_parents()
            family = {self.process.pid}
            grew = True
            while grew:
                grew = False
                for pid, parent in parents.items():
                    if parent in family and pid not in family:
                        family.add(pid)
                        grew = True
            for pid in family - {self.process.pid}:
                found = _stat(pid)
                if found is not None and pid not in self.seen:
                    self.seen[pid] = found[2]
            time.sleep(0.05)
        self._done.set()

    def wait_for_line(self, text: str, timeout: float) -> list[str]:
        """Read output until a line contains ``text``; the lines read."""
        assert self.process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if text in line:
                return lines
        raise AssertionError(f"{text!r} not printed; output so far:\n{''.join(lines)}")

    def finish(self, timeout: float) -> tuple[int, str]:
        """Wait for the exit; (exit status, the rest of the output)."""
        output, _ = self.process.communicate(timeout=timeout)
        self._done.wait(2)
        return self.process.returncode, output

    def left_behind(self) -> list[int]:
        """Descendants that are still running (zombies count as gone)."""
        alive = []
        for pid, started in self.seen.items():
            found = _stat(pid)
            if found is not None and found[2] == started and found[1] != "Z":
                alive.append(pid)
        return alive
