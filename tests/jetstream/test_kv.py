"""Key-value watchers run on nats-py's own JetStream context: instrumentation
leaves them working."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Traced

pytestmark = pytest.mark.integration


async def test_kv_watch_sees_updates(traced: Traced) -> None:
    js = traced.nc.jetstream()
    kv = await js.create_key_value(bucket="natstrace_watch")
    try:
        watcher = await kv.watchall()
        await kv.put("order.7", b"new")
        await kv.put("order.7", b"paid")
        await kv.delete("order.7")
        seen = []
        while len(seen) < 3:
            entry = await asyncio.wait_for(watcher.updates(timeout=2), 3)
            if entry is not None:
                seen.append((entry.key, entry.value, entry.operation))
        assert [(key, value) for key, value, _ in seen] == [
            ("order.7", b"new"),
            ("order.7", b"paid"),
            ("order.7", b""),
        ]
        assert seen[2][2] == "DEL"
        await watcher.stop()
    finally:
        await js.delete_key_value("natstrace_watch")
