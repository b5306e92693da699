"""One real workflow run shared by the flow tests (see ``workflow_run.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.flow import Span, read_files
from tests.flow.workflow_run import run_workflow


@pytest.fixture(scope="module")
def workflow_file(
    nats_server: EmbeddedNatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The OTLP JSON lines file of one real run (synchronous: a module-scoped fixture
    cannot share the per-test event loop)."""
    path = tmp_path_factory.mktemp("flow") / "traces.jsonl"
    asyncio.run(run_workflow(nats_server.url, path))
    return path


@pytest.fixture(scope="module")
def workflow_spans(workflow_file: Path) -> list[Span]:
    """The spans of that run, as the file source reads them."""
    return read_files([workflow_file]).spans
