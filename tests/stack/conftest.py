"""Fixtures for the observability-stack tests (helpers live in stack_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from go_stack import go_binary
from stack_run import StackRun, start_stack
from stack_support import ContractWorkload, Prometheus, require_binary


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool")


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    """A Prometheus with nothing to scrape: enough to parse and type-check PromQL."""
    server = Prometheus(targets=[])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def contract_workload() -> Iterator[ContractWorkload]:
    workload = ContractWorkload()
    yield workload
    workload.stop()


@pytest.fixture(scope="session")
def stack_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRun]:
    """The demo through natstrace's collector into Jaeger, scraped by Prometheus; one
    run for every end-to-end test (it takes about half a minute)."""
    go_binary("jaeger")
    go_binary("otelcol")
    run = start_stack(tmp_path_factory.mktemp("stack"))
    yield run
    run.stop()
