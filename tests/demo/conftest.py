"""One short demo run (real processes, real nats-server), shared by the whole session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from natstrace.flow import Span, read_files
from tests.demo.processes import DemoProcess

ORDERS = 6
"""Orders 1 and 4 have shipments redelivered, order 3 is declined (see scenario.py)."""


@dataclass
class DemoRun:
    """The finished run: exit status, output, trace file, the processes it started."""

    returncode: int
    output: str
    trace_file: Path
    demo: DemoProcess

    @property
    def spans(self) -> list[Span]:
        return read_files([self.trace_file]).spans


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    workdir = tmp_path_factory.mktemp("demo")
    trace_file = workdir / "traces" / "demo.jsonl"
    demo = DemoProcess.start(
        ["--orders", str(ORDERS), "--interval", "0.02", "--trace-file", str(trace_file)],
        cwd=workdir,
    )
    returncode, output = demo.finish(timeout=30)
    return DemoRun(returncode, output, trace_file, demo)
