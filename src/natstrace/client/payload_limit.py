"""The server's ``max_payload``, counted as the server counts it: body and headers.

nats-py refuses a body larger than ``max_payload`` but does not count the header
block; the server does, and closes the connection on a message over the limit,
losing it and everything buffered behind it. natstrace adds headers to every
message, so the innermost publish apps call :func:`check_max_payload` with the
headers as they will be sent, and a message over the limit fails like an
oversized body in nats-py: with ``MaxPayloadError``, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from nats.errors import MaxPayloadError

__all__ = ["check_max_payload", "header_block_size"]

_FRAME: Final = len(b"NATS/1.0\r\n") + len(b"\r\n")
"""The status line before the header lines and the blank line after them."""


def header_block_size(headers: Mapping[str, str]) -> int:
    """Bytes of the header block nats-py sends for ``headers``.

    As nats-py writes it: ``NATS/1.0``, then ``name: value`` per header with both
    stripped (empty names skipped), each line ending in CRLF, then a blank line.
    """
    size = _FRAME
    for key, value in headers.items():
        name = key.strip()
        if name:
            size += len(name.encode()) + len(value.strip().encode()) + 4
    return size


def check_max_payload(payload: bytes, headers: Mapping[str, str], max_payload: int) -> None:
    """Raise ``MaxPayloadError`` if ``payload`` with ``headers`` exceeds ``max_payload``."""
    # A UTF-8 character takes at most 4 bytes: a message well under the limit passes
    # on a count of characters, without encoding every header (half the cost).
    characters = 0
    for key, value in headers.items():
        characters += len(key) + len(value) + 4
    if len(payload) + _FRAME + 4 * characters <= max_payload:
        return
    size = len(payload) + header_block_size(headers)
    if size > max_payload:
        raise MaxPayloadError(
            f"{len(payload)} bytes of body and {size - len(payload)} of headers exceed "
            f"the server's max_payload of {max_payload} bytes"
        )
