"""natstrace's pytest plugin (registered by the ``pytest11`` entry point ``natstrace``).

Fixtures:

- ``nats_server``: an embedded nats-server with JetStream for the whole session;
  ``nats_url`` is its URL.
- ``fresh_nats_server`` / ``fresh_nats_url``: a server of the test's own (for
  restarts, or a JetStream store nobody else touched).
- ``natstrace_spans``: a :class:`~natstrace.testing.SpanCapture`, empty at the
  start of every test.
- ``natstrace_metrics``: a :class:`~natstrace.testing.MetricsCapture`, a fresh
  registry with natstrace's instruments.
- ``natstrace_clients`` (needs pytest-asyncio): a
  :class:`~natstrace.testing.NatsClients` factory of instrumented clients on
  ``nats_url``, closed after the test.

A conftest fixture of the same name overrides the plugin's, as with any plugin.
An ``async def`` test that takes one of these fixtures is marked
``pytest.mark.asyncio`` by the plugin, so it runs whatever ``asyncio_mode`` the
project sets (strict, the default, included).

Example::

    async def test_publish_is_traced(natstrace_clients, natstrace_spans):
        nc = await natstrace_clients("orders")
        await nc.publish("orders.created", b"{}")
        assert natstrace_spans.named("send orders.created")
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from importlib.util import find_spec

import pytest

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.testing.clients import NatsClients
from natstrace.testing.metrics import MetricsCapture
from natstrace.testing.spans import SpanCapture

__all__ = [
    "fresh_nats_server",
    "fresh_nats_url",
    "nats_server",
    "nats_url",
    "natstrace_metrics",
    "natstrace_spans",
]


@pytest.fixture(scope="session")
def nats_server() -> Iterator[EmbeddedNatsServer]:
    """A real nats-server (JetStream on, temporary store) shared by the session."""
    with EmbeddedNatsServer(jetstream=True) as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNatsServer) -> str:
    """The URL of the session's nats-server."""
    return nats_server.url


@pytest.fixture
def fresh_nats_server() -> Iterator[EmbeddedNatsServer]:
    """A nats-server for this test only (stop and start it to test reconnects)."""
    with EmbeddedNatsServer(jetstream=True) as server:
        yield server


@pytest.fixture
def fresh_nats_url(fresh_nats_server: EmbeddedNatsServer) -> str:
    """The URL of this test's own nats-server."""
    return fresh_nats_server.url


@pytest.fixture
def natstrace_spans() -> Iterator[SpanCapture]:
    """Spans of this test, in memory; ``.provider(service)`` for each service's tracer
    provider, ``.tracer_provider`` for a service called ``test``."""
    capture = SpanCapture()
    yield capture
    capture.shutdown()


@pytest.fixture
def natstrace_metrics() -> MetricsCapture:
    """natstrace's instruments in a fresh Prometheus registry (service ``test``)."""
    return MetricsCapture()


_PLUGIN_FIXTURES = frozenset(
    {
        "nats_server",
        "nats_url",
        "fresh_nats_server",
        "fresh_nats_url",
        "natstrace_spans",
        "natstrace_metrics",
        "natstrace_clients",
    }
)


if find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    __all__ += ["natstrace_clients", "pytest_pycollect_makeitem"]

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makeitem(
        collector: pytest.Module | pytest.Class, name: str, obj: object
    ) -> None:
        """Mark ``async def`` tests that take this plugin's fixtures ``asyncio``, so
        they run under pytest-asyncio's default (strict) mode without the project
        setting ``asyncio_mode = auto``. Runs before the test item exists, which is
        when pytest-asyncio reads the mark; collects nothing itself."""
        if not inspect.iscoroutinefunction(obj) or not collector.funcnamefilter(name):
            return
        try:
            wanted = set(inspect.signature(obj).parameters)
        except (TypeError, ValueError):
            return
        marks = getattr(obj, "pytestmark", [])
        if wanted & _PLUGIN_FIXTURES and not any(mark.name == "asyncio" for mark in marks):
            pytest.mark.asyncio(obj)

    @pytest_asyncio.fixture
    async def natstrace_clients(
        nats_url: str, natstrace_spans: SpanCapture
    ) -> AsyncIterator[NatsClients]:
        """``await natstrace_clients("orders")``: an instrumented client of service
        ``orders`` on the session's server, spans into ``natstrace_spans``."""
        clients = NatsClients(nats_url, natstrace_spans)
        yield clients
        await clients.close()
