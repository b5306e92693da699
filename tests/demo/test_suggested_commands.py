"""The commands the demo suggests, run as it prints them right after it ends.

A run of its own with the default trace file, in a directory of its own: the
suggestions name no file, so they only work where the demo wrote its default one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo.processes import DemoProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo-default")
    demo = DemoProcess.start(["--orders", "3", "--interval", "0.02"], cwd=workdir)
    returncode, output = demo.finish(timeout=30)
    assert returncode == 0, output
    return workdir, output


def _run_as_printed(command: str, cwd: Path) -> str:
    """``natstrace ...`` as a user pastes it: its output piped, no COLUMNS set."""
    program, *args = command.split()
    assert program == "natstrace"
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        [sys.executable, "-m", "natstrace.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_orphans_as_the_demo_prints_it_lists_what_it_named(demo_output: tuple[Path, str]) -> None:
    workdir, output = demo_output
    found = re.search(
        r"Never consumed: (\S+) from (\S+), (\d+) message\(s\) \((natstrace orphans)\)", output
    )
    assert found, output
    template, service, count, command = found.groups()

    table = _run_as_printed(command, workdir)

    row = rf"│ {service}\s+│ {re.escape(template)}\s+│ {count}\s+│ [0-9a-f]{{32}} │"
    assert re.search(row, table), table
    assert "not judged yet" not in table


def test_flow_as_the_demo_prints_it_keeps_each_hop_on_one_line(
    demo_output: tuple[Path, str],
) -> None:
    workdir, output = demo_output
    found = re.search(r"(natstrace flow order-\S+)", output)
    assert found, output

    tree = _run_as_printed(found.group(1), workdir)

    hops = [line for line in tree.splitlines() if " process " in line]
    assert hops, tree
    # Piped output is not wrapped at 80 columns: the latency stays on its hop's line.
    for hop in hops:
        assert "latency" in hop, tree
    # The shipping fetch usually began waiting before the order existed (unless it
    # started in the few ms between the two): the tree then says what that means.
    early = re.search(r"  -\d", tree) is not None
    assert ("note: a negative offset (-) is a receive that began waiting" in tree) == early
