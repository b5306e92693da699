"""Ctrl-C (SIGINT to the demo process) stops every child, flushes spans, exits 130."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from natstrace.flow import read_files
from tests.demo.processes import DemoProcess

pytestmark = pytest.mark.integration


def test_sigint_stops_everything_cleanly(tmp_path: Path) -> None:
    demo = DemoProcess.start(["--orders", "0", "--interval", "0.05"], cwd=tmp_path)
    try:
        demo.wait_for_line("services ready", timeout=25)
        time.sleep(1.0)  # some orders go through
        demo.process.send_signal(signal.SIGINT)
        returncode, output = demo.finish(timeout=20)
    finally:
        if demo.process.poll() is None:
            demo.process.kill()

    assert returncode == 130, output
    assert "Demo interrupted" in output
    assert len(demo.seen) >= 7
    assert demo.left_behind() == []
    # The default file, in the working directory; every service flushed into it.
    spans = read_files([tmp_path / "natstrace-traces.jsonl"]).spans
    services = {span.service for span in spans}
    assert services == {"orders", "payments", "inventory", "shipping", "orchestrator"}
