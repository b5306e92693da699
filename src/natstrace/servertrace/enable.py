"""Turn server-side tracing on for one message.

The server traces a message that carries ``Nats-Trace-Dest``; every server on
its path publishes a trace event to that subject. For sampled tracing without
per-message headers, see the account ``msg_trace`` setting in
``docs/server-trace.md``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["TRACE_DEST_HEADER", "TRACE_ONLY_HEADER", "trace_headers"]

TRACE_DEST_HEADER: Final = "Nats-Trace-Dest"
TRACE_ONLY_HEADER: Final = "Nats-Trace-Only"
ACCEPT_ENCODING_HEADER: Final = "Accept-Encoding"


def trace_headers(dest: str, *, trace_only: bool = False, compress: bool = False) -> dict[str, str]:
    """The headers to add to a publish so that the servers trace it to ``dest``.

    Args:
        dest: the subject the trace events go to (where a collector listens).
        trace_only: trace the path without delivering the message to anyone.
        compress: ask the servers to gzip the trace events.

    Returns a new dict; merge it into the message's headers::

        await nc.publish(subject, payload, headers={**headers, **trace_headers("traces")})
    """
    if not dest or any(c in dest for c in " \t\r\n") or "*" in dest or ">" in dest:
        raise ValueError(f"not a valid publish subject: {dest!r}")
    found = {TRACE_DEST_HEADER: dest}
    if trace_only:
        found[TRACE_ONLY_HEADER] = "true"
    if compress:
        found[ACCEPT_ENCODING_HEADER] = "gzip"
    return found
