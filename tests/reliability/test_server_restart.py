"""nats-server killed and restarted mid-stream, on the same port and store: core
subscribers resume, every stored JetStream message is handled and acknowledged,
no span stays open, the in-flight gauge returns to zero."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path

import nats.errors
from nats.js.api import ConsumerConfig, ConsumerInfo

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.testing import eventually
from tests.reliability.conftest import connect_instrumented

STORED = 300


async def _until(predicate: object, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_restart_mid_stream(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(jetstream=True, store_dir=tmp_path / "js").start()
    try:
        client = await connect_instrumented(server.url)
        nc = client.nc
        js = nc.jetstream()
        await js.add_stream(name="REL", subjects=["rel.js.>"])
        for i in range(STORED):
            await js.publish("rel.js.order", str(i).encode())

        handled: Counter[int] = Counter()
        deliveries: defaultdict[int, set[int]] = defaultdict(set)
        core: list[bytes] = []

        async def handle_js(msg: object) -> None:
            meta = msg.metadata  # type: ignore[attr-defined]
            seq = meta.sequence.stream
            handled[seq] += 1
            deliveries[seq].add(meta.num_delivered)
            await asyncio.sleep(0.002)  # slow enough that the kill lands mid-stream

        async def handle_core(msg: object) -> None:
            core.append(msg.data)  # type: ignore[attr-defined]

        await nc.subscribe("rel.core", cb=handle_core)
        await js.subscribe(
            "rel.js.>", durable="rel", cb=handle_js, config=ConsumerConfig(ack_wait=2)
        )
        await _until(lambda: len(handled) >= STORED // 3, 20)

        server.kill()  # a crash, no clean shutdown
        await _until(lambda: not nc.is_connected, 10)  # the client noticed: down for real
        server.start()

        await _until(lambda: len(handled) == STORED, 30)
        await _until(lambda: nc.is_connected, 10)
        for i in range(50):
            await nc.publish("rel.core", str(i).encode())
        await _until(lambda: len(core) == 50, 10)

        # Acks still on their way, or lost in the crash and so redelivered: wait for
        # the consumer to settle, then check.
        async def settled() -> ConsumerInfo:
            info = await js.consumer_info("REL", "rel")
            assert info.num_ack_pending == 0 and info.num_pending == 0
            return info

        final = await eventually(settled, timeout=10)
        assert final.ack_floor.stream_seq == STORED
        assert set(handled) == set(range(1, STORED + 1)), "every stored message handled"
        # Handled more than once only when redelivered (its ack had not landed).
        for seq, times in handled.items():
            assert times == len(deliveries[seq]), (seq, times, deliveries[seq])
        await _until(lambda: client.open_spans.open == {}, 5)
        for labels in ({"messaging_destination_name": "rel.js.>",
                        "messaging_consumer_group_name": "rel"},
                       {"messaging_destination_name": "rel.core",
                        "messaging_consumer_group_name": ""}):  # fmt: skip
            assert client.sample("natstrace_messages_in_flight", **labels) == 0
        process = client.spans("process rel.js.>")
        assert len(process) == sum(handled.values())
        # nats-py reports the lost connection; nothing else reached the error callback.
        assert [e for e in client.errors if not isinstance(e, (OSError, nats.errors.Error))] == []
        await client.raw.close()
    finally:
        server.close()
