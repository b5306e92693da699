"""Fixtures of the tracing tests.

- ``clean_env``: no ``OTEL_*`` or ``NATSTRACE_*`` variable from the outer
  environment; the test sets the ones it needs on the monkeypatch it gets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "NATSTRACE_")):
            monkeypatch.delenv(name)
    yield monkeypatch
