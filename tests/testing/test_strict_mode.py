"""The docs' complete example in a user's project that never set ``asyncio_mode``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).with_name("test_example.py")


def _pytest_in(project: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "settings",
    ["", "[tool.pytest.ini_options]\nasyncio_mode = 'strict'\n"],
    ids=["nothing set", "strict"],
)
def test_the_complete_example_passes_in_a_project_without_asyncio_mode(
    tmp_path: Path, settings: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'shop'\n{settings}")
    (tmp_path / "test_billing.py").write_text(EXAMPLE.read_text())
    # An async test of the project's own that takes no natstrace fixture stays the
    # project's business: the plugin marks only tests that take its fixtures.
    (tmp_path / "test_other.py").write_text("def test_sync() -> None:\n    assert True\n")

    done = _pytest_in(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout, done.stdout
