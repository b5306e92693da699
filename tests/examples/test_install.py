"""The install the README documents: a wheel built from a clone, installed elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_documented_wheel_builds_and_installs(tmp_path: Path) -> None:
    # A copy of what a clone holds, so the build leaves nothing in the repository.
    clone = tmp_path / "natstrace"
    clone.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, clone / name)
    shutil.copytree(ROOT / "src", clone / "src", ignore=shutil.ignore_patterns("*.egg-info"))

    _pip("wheel", "-q", "--no-deps", "-w", "dist", str(clone), cwd=tmp_path)

    (wheel,) = (tmp_path / "dist").glob("natstrace-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entries = archive.read(entry_points).decode()
    assert {"natstrace/py.typed", "natstrace/cli.py", "natstrace/testing/plugin.py"} <= names
    assert "natstrace = natstrace.cli:main" in entries
    assert "natstrace = natstrace.testing.plugin" in entries

    target = tmp_path / "site"
    _pip("install", "-q", "--no-deps", "--target", str(target), str(wheel), cwd=tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import natstrace; print(natstrace.__file__)"],
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith(str(target)), done.stdout
