"""Follow OTLP JSON lines files as they grow, reading each new line once.

A running system appends to its trace file; reading the whole file again every
few seconds would cost as much as the first load. A follower remembers how far
it read and decodes only complete new lines; a file that shrank (rewritten, as
the demo does at each run) or was replaced is read again from the start.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from natstrace.flow.bulk import paused_gc
from natstrace.flow.errors import SourceError
from natstrace.flow.model import Span
from natstrace.flow.otlp_json import DecodeStats, decode_request

__all__ = ["FileFollower", "FollowResult"]


@dataclass(slots=True)
class FollowResult:
    """What one poll found: new spans, and whether earlier ones are void."""

    spans: list[Span] = field(default_factory=list)
    restarted: bool = False
    """A file was rewritten or replaced: drop what was read before and use ``spans``
    (which then hold everything, read from the start)."""
    skipped_lines: int = 0


@dataclass(slots=True)
class _Position:
    inode: int
    offset: int


class FileFollower:
    """Reads new complete lines of ``paths`` on each :meth:`poll`."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self._positions: dict[Path, _Position] = {}
        self.stats = DecodeStats()

    def poll(self) -> FollowResult:
        """Everything appended since the last poll.

        Raises:
            SourceError: a file cannot be read.
        """
        result = FollowResult()
        for path in self.paths:
            try:
                status = path.stat()
            except FileNotFoundError:
                # Not written yet (the system has not started): keep waiting.
                continue
            except OSError as exc:
                raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
            position = self._positions.get(path)
            if position is not None and (
                position.inode != status.st_ino or status.st_size < position.offset
            ):
                position = None
                result.restarted = True
            if position is None:
                position = self._positions[path] = _Position(status.st_ino, 0)
            if status.st_size > position.offset:
                self._read(path, position, result)
        if result.restarted:
            # Start over on every file so that the caller can replace its spans whole.
            self._positions.clear()
            again = self.poll()
            again.restarted = True
            return again
        return result

    def _read(self, path: Path, position: _Position, result: FollowResult) -> None:
        try:
            with path.open("rb") as handle:
                handle.seek(position.offset)
                data = handle.read()
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        # Only complete lines: the writer may be in the middle of the last one.
        end = data.rfind(b"\n") + 1
        if end == 0:
            return
        with paused_gc():
            for line in data[:end].splitlines():
                if not line.strip():
                    continue
                try:
                    request = json.loads(line)
                except (ValueError, UnicodeDecodeError):
                    request = None
                if isinstance(request, dict):
                    result.spans.extend(decode_request(request, self.stats))
                else:
                    result.skipped_lines += 1
        position.offset += end

    def __repr__(self) -> str:
        return f"FileFollower({', '.join(map(os.fspath, self.paths))})"
