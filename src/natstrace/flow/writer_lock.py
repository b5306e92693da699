"""Tell a trace file that is still being written from one that is finished.

Every :class:`~natstrace.flow.jsonl_exporter.JsonLinesSpanExporter` holds a shared
``flock`` on its file from its first write until it shuts down (or its process
exits: the system releases the lock even after a crash). A reader that cannot take
the lock exclusively knows a writer is still at work, so sends near the end of the
file may still be waiting for their consumers; a file nobody holds is finished.

Other writers (the Collector's file exporter) take no lock: their files read as
finished. Where ``flock`` does not exist (Windows), every file reads as finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["being_written", "hold_writer_lock", "release_writer_lock"]


def hold_writer_lock(path: Path) -> IO[bytes] | None:
    """Open ``path`` (creating it) and hold a shared writer lock on it; ``None`` when
    locks are not available. Keep the handle open for as long as you write."""
    if fcntl is None:
        return None
    try:
        handle = path.open("ab")
    except OSError:
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        # Only an exclusive lock conflicts with a shared one, and readers hold that
        # for an instant: write unlocked rather than wait.
        handle.close()
        return None
    return handle


def release_writer_lock(handle: IO[bytes] | None) -> None:
    """Give up a lock from :func:`hold_writer_lock` (closing the handle does it)."""
    if handle is not None:
        handle.close()


def being_written(path: Path) -> bool:
    """Whether a writer holds ``path`` open with a writer lock right now."""
    if fcntl is None:
        return False
    try:
        handle = path.open("rb")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False
