"""Bounded destination names for server-hop span names and metric labels."""

from __future__ import annotations

from collections.abc import Callable

from natstrace.client.subjects import SubjectTemplates

__all__ = ["SubjectTemplate", "default_subject_template"]

SubjectTemplate = Callable[[str], str]
"""Maps a concrete subject to a low-cardinality template."""

default_subject_template: SubjectTemplate = SubjectTemplates().for_publish
"""The same folding the client middleware applies to published subjects: reply
inboxes become ``_INBOX``, and past 1000 distinct subjects new ones become
``_other``. Applications with IDs in subjects should pass their own mapping."""
