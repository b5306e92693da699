"""Ctrl-C (SIGINT to the demo process) stops every child, flushes spans, exits 130."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import nats
import pytest

from natstrace.demo.contract import ORDERS_COMPLETED
from natstrace.flow import read_files
from tests.demo.processes import DemoProcess

pytestmark = pytest.mark.integration


async def _an_order_completes(url: str, timeout: float) -> None:
    nc = await nats.connect(url)
    try:
        completed = await nc.subscribe(ORDERS_COMPLETED)
        await completed.next_msg(timeout=timeout)
    finally:
        await nc.close()


def test_sigint_stops_everything_cleanly(tmp_path: Path) -> None:
    demo = DemoProcess.start(["--orders", "0", "--interval", "0.05"], cwd=tmp_path)
    try:
        lines = demo.wait_for_line("services ready", timeout=25)
        [url] = [word for line in lines for word in line.split() if word.startswith("nats://")]
        asyncio.run(_an_order_completes(url, timeout=20))  # every service took part
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
