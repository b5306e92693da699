"""The embedded nats-server: a client port that someone else takes first."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from natstrace.embedded_server import EmbeddedNatsServer

pytestmark = pytest.mark.integration


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port some other process is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_picked_port_taken_before_the_server_binds_it_is_replaced(held_port: int) -> None:
    server = EmbeddedNatsServer(jetstream=False)
    server.port = held_port  # as if taken between picking and binding
    with server:
        assert server.running
        assert server.port != held_port
        with socket.create_connection((server.host, server.port), timeout=2) as sock:
            assert sock.recv(4) == b"INFO"


def test_an_asked_for_port_that_is_taken_is_an_error(held_port: int) -> None:
    server = EmbeddedNatsServer(jetstream=False, port=held_port)
    with pytest.raises(RuntimeError, match="address already in use"):
        server.start()
    assert not server.running
    assert server.port == held_port
    server.close()
