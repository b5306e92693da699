"""Hostile input over a real nats-server: every message is handled, nothing invalid
travels on, and no ID from outside can add a header line on the wire."""

from __future__ import annotations

import asyncio
import random
import socket

import nats
import pytest

import natstrace
from natstrace.client.headers import read_incoming
from natstrace.embedded_server import EmbeddedNatsServer
from tests.reliability.conftest import Instrumented

HOSTILE_MESSAGES = 1_000

_SAMPLES = [
    "00-garbage-garbage-01",
    "00-" + "0" * 32 + "-b7ad6b7169203331-01",
    "x" * 9000,
    "evil\tvalue",
    "caf\u00e9",
    "a b",
    "=,;=,;",
    "k=" + "v" * 8200,
    "a=b," * 40,
    "",
    "\u202e\u0000\u0007",
    "FF-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
]
_NAMES = ["traceparent", "tracestate", "baggage", "Nats-Msg-Id", "Correlation-Id", "Causation-Id"]


def _hostile_headers(rng: random.Random) -> dict[str, str]:
    return {name: rng.choice(_SAMPLES) for name in rng.sample(_NAMES, rng.randint(1, 6))}


async def test_a_thousand_hostile_messages_are_all_handled(
    instrumented: Instrumented, server: EmbeddedNatsServer
) -> None:
    rng = random.Random(7)
    handled: list[str] = []
    onward: list[dict[str, str]] = []
    done = asyncio.Event()

    async def handler(msg: object) -> None:
        handled.append(natstrace.current_correlation().correlation_id or "")  # type: ignore[union-attr]
        await instrumented.nc.publish("hostile.onward", b"")

    async def capture(msg: object) -> None:
        onward.append(dict(msg.headers or {}))  # type: ignore[attr-defined]
        if len(onward) == HOSTILE_MESSAGES:
            done.set()

    await instrumented.nc.subscribe("hostile.in", cb=handler)
    plain = await nats.connect(server.url)
    await plain.subscribe("hostile.onward", cb=capture)
    await plain.flush()
    sent_invalid = 0
    for _ in range(HOSTILE_MESSAGES):
        headers = _hostile_headers(rng)
        sent_invalid += len(read_incoming(headers).invalid)
        await plain.publish("hostile.in", b"payload", headers=headers)
    await asyncio.wait_for(done.wait(), 30)
    await plain.close()

    assert len(handled) == HOSTILE_MESSAGES, "the handler ran for every message"
    assert all(read_incoming(h).invalid == () for h in onward), "nothing invalid travels on"
    counted = instrumented.registry.get_sample_value(
        "natstrace_invalid_headers_total", {"service_name": "rel", "header": "traceparent"}
    )
    assert counted and counted > 0
    total = sum(
        instrumented.sample("natstrace_invalid_headers_total", header=name) for name in _NAMES
    )
    assert total == sent_invalid
    assert instrumented.errors == []
    assert instrumented.open_spans.open == {}


def _read_raw_message(sock: socket.socket) -> bytes:
    """Read from a raw NATS connection until one whole HMSG has arrived."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
        start = data.find(b"HMSG ")
        if start < 0:
            continue
        line_end = data.find(b"\r\n", start)
        if line_end < 0:
            continue
        fields = data[start:line_end].split()
        total = int(fields[-1])
        if len(data) >= line_end + 2 + total + 2:
            return data[line_end + 2 : line_end + 2 + total]


@pytest.mark.parametrize(
    "hostile",
    [
        "abc\r\nInjected: yes",
        "abc\nInjected: yes",
        "abc\rInjected: yes",
        "abc\x00Injected: yes",
        "abc: Injected",
        "abc\r\n\r\nbody",
        "x" * 129,
        "",
    ],
)
async def test_an_outside_id_can_never_add_a_header_on_the_wire(
    instrumented: Instrumented, server: EmbeddedNatsServer, hostile: str
) -> None:
    # A raw subscriber sees exactly the bytes the server delivers.
    sock = socket.create_connection((server.host, server.port), timeout=5)
    try:
        sock.recv(4096)  # INFO
        sock.sendall(b'CONNECT {"headers":true,"verbose":false}\r\nSUB inject.> 1\r\nPING\r\n')
        while b"PONG" not in sock.recv(4096):
            pass
        with pytest.raises(natstrace.InvalidIdError), natstrace.correlation_scope(hostile):
            pass
        for header in ("Nats-Msg-Id", "Correlation-Id", "Causation-Id"):
            with pytest.raises(natstrace.InvalidIdError):
                await instrumented.nc.publish("inject.core", b"", headers={header: hostile})
            with pytest.raises(natstrace.InvalidIdError):
                await instrumented.nc.request("inject.req", b"", headers={header: hostile})
        # Then a legitimate message: it is the first (and only) thing on the wire.
        with natstrace.correlation_scope("req-1:a/b=c"):
            await instrumented.nc.publish("inject.core", b"", headers={"Nats-Msg-Id": "m-1"})
        await instrumented.raw.flush()
        block = _read_raw_message(sock)
    finally:
        sock.close()
    lines = block.split(b"\r\n")
    assert lines[0] == b"NATS/1.0"
    names = sorted(line.split(b":", 1)[0] for line in lines[1:] if line)
    assert names == [b"Correlation-Id", b"Nats-Msg-Id", b"traceparent"]
    assert b"Injected" not in block
