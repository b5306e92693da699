"""JetStream fixtures: a stream per test, with unique names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import count

import pytest

from natstrace.jetstream.context import InstrumentedJetStream
from tests.conftest import Traced

_ids = count()


@dataclass
class Stream:
    """A stream made for one test: its name and the subject prefix it captures."""

    js: InstrumentedJetStream
    name: str
    prefix: str

    def subject(self, suffix: str = "created") -> str:
        return f"{self.prefix}.{suffix}"

    @property
    def wildcard(self) -> str:
        return f"{self.prefix}.*"


@pytest.fixture
async def stream(traced: Traced) -> AsyncIterator[Stream]:
    """A fresh stream ``S<n>`` capturing ``s<n>.*``, deleted after the test."""
    n = next(_ids)
    js = traced.nc.jetstream()
    name, prefix = f"S{n}", f"s{n}"
    await js.add_stream(name=name, subjects=[f"{prefix}.*"])
    yield Stream(js, name, prefix)
    await js.delete_stream(name)
