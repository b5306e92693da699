"""A busy metrics port fails with a message that names it."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import CollectorRegistry

from natstrace.metrics import start_http_server


def test_a_busy_port_is_named_in_the_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"127\.0\.0\.1:{port}.*OTEL_EXPORTER_PROMETHEUS_PORT"):
            start_http_server(port, "127.0.0.1", CollectorRegistry())
