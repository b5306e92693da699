"""The demo's embedded nats-server, in a process of its own.

Why a separate process: the supervisor starts every part of the demo in a new
session, so that a Ctrl-C in the terminal reaches the supervisor only and it can
stop the services first and the server last. nats-server, started directly,
would be in the terminal's process group and quit at once on Ctrl-C, before the
services had drained. Started from here, it is in this process's session.

Prints one JSON line (``url``, ``pid``) when the server accepts clients; stops
it on SIGTERM, SIGINT or end of standard input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from natstrace.embedded_server import EmbeddedNatsServer

__all__ = ["main"]


def _stop_on_eof(stop: threading.Event) -> None:
    def wait_for_eof() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        stop.set()

    threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    """Run an embedded JetStream-enabled nats-server until told to stop."""
    parser = argparse.ArgumentParser(description="the natstrace demo's nats-server")
    parser.add_argument("--stop-on-stdin-eof", action="store_true")
    options = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if options.stop_on_stdin_eof:
        _stop_on_eof(stop)
    server = EmbeddedNatsServer(jetstream=True).start()
    try:
        pid = server._process.pid if server._process is not None else None
        ready = {"service": "nats-server", "ready": True, "url": server.url, "pid": pid}
        print(json.dumps(ready), flush=True)
        while not stop.wait(0.2):
            if not server.running:
                print(server.log_tail(), file=sys.stderr)
                return 1
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
