"""Fixtures shared by the whole suite: real servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from natstrace.embedded_server import EmbeddedNatsServer


@pytest.fixture(scope="session")
def nats_server() -> Iterator[EmbeddedNatsServer]:
    """One real nats-server (JetStream on, temporary store) for the session."""
    with EmbeddedNatsServer(jetstream=True) as server:
        yield server
