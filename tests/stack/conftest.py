"""Fixtures for the observability-stack tests (helpers live in stack_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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
