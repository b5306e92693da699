"""``natstrace ui`` as a command: the demo offers it, and it serves what it says."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

from natstrace.flow import read_files


def test_the_demo_ends_by_offering_the_console_and_the_command_works(demo_file: Path) -> None:
    output = (demo_file.parent / "demo.out").read_text()
    offered = re.search(r"natstrace ui (--file \S+)", output)
    assert offered is not None, output
    args = shlex.split(offered.group(1))
    assert args == ["--file", str(demo_file)]

    process = subprocess.Popen(
        [sys.executable, "-m", "natstrace.cli", "ui", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        url = re.search(r"Open (http://127\.0\.0\.1:\d+/)", lines[1])
        assert url is not None, lines
        with urllib.request.urlopen(url.group(1) + "api/status", timeout=10) as response:
            status = json.load(response)
        workflows = {s.conversation_id for s in read_files([demo_file]).spans} - {None}
        assert status["workflows"] == len(workflows) == 6
        assert lines[0].startswith(f"natstrace ui: 6 workflow(s), {status['spans']} span(s)")
    finally:
        process.terminate()
        process.wait(timeout=10)
