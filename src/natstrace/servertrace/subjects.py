"""Bounded destination names for span names and metric labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["SubjectTemplate", "default_subject_template"]

SubjectTemplate = Callable[[str], str]
"""Maps a concrete subject to a low-cardinality template."""

INBOX_PREFIX: Final = "_INBOX."


def default_subject_template(subject: str) -> str:
    """``_INBOX.*`` folds to ``_INBOX`` (every reply subject is unique); others stay as is.

    Applications with IDs in subjects should pass their own mapping.
    """
    if subject.startswith(INBOX_PREFIX) or subject == "_INBOX":
        return "_INBOX"
    return subject
