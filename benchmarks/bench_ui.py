"""How fast ``natstrace ui`` answers on a file of 100,000 spans.

Writes the flow benchmark's synthetic file (25,000 four-hop workflows, half the
hops on linked traces), loads it as ``natstrace ui --file`` does, then times the
console's HTTP answers end to end (request, JSON, response) on loopback: the
workflow list, a search by correlation ID, one workflow (waterfall and sequence
data), and the topology, orphans and slow-hops reports (first request computes,
later ones are cached until the data changes).

    .venv/bin/python benchmarks/bench_ui.py [--spans 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench_flow import generate
from natstrace.flow import read_files
from natstrace.ui import SourceConfig, SpanStore, UiServer


def _seconds(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def _median(repeat: int, call: Callable[[], object]) -> float:
    return statistics.median(_seconds(call) for _ in range(repeat))


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        body: bytes = response.read()
        return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "spans.jsonl"
        correlation_id = generate(path, options.spans)
        print(f"{options.spans} spans, {path.stat().st_size / 1e6:.1f} MB")
        reading = _seconds(lambda: read_files([path]))
        print(f"  for comparison, read_files (what natstrace flow reads): {reading:6.2f} s")
        store = SpanStore(SourceConfig(files=[path]))
        load = _seconds(store.refresh)
        snapshot = store.snapshot
        print(f"  load the file, index it, list {len(snapshot.workflows)} workflows: {load:6.2f} s")
        with UiServer(store, "127.0.0.1", 0, refresh_seconds=3600) as server:
            base = server.url
            quoted = urllib.parse.quote(correlation_id)
            first = {
                name: _seconds(lambda url=url: _get(base + url))
                for name, url in (
                    ("topology", "api/topology"),
                    ("orphans", "api/orphans"),
                    ("slow", "api/slow"),
                )
            }
            rows = [
                ("GET /api/workflows (the 200 most recent)", "api/workflows"),
                (f"GET /api/workflows?q={correlation_id}", f"api/workflows?q={quoted}"),
                ("GET /api/workflows?q=status:failed", "api/workflows?q=status%3Afailed"),
                ("GET /api/workflow?id=... (one workflow)", f"api/workflow?id={quoted}"),
                ("GET /api/topology (cached)", "api/topology"),
            ]
            print(f"  median of {options.repeat} requests:")
            for label, url in rows:
                seconds = _median(options.repeat, lambda url=url: _get(base + url))
                print(f"    {label:<48} {seconds * 1000:8.1f} ms")
            print("  first request (computed once per change of the data):")
            for name, seconds in first.items():
                print(f"    GET /api/{name:<39} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
