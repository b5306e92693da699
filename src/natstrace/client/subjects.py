"""Subject templates: the bounded names used in span names and metric labels.

A subscription's template is its own subject (``payments.*``). A published
subject is matched against the configured wildcard templates (and an optional
mapping function); reply inboxes fold to ``_INBOX``. Whatever stays unmatched is
used as is, up to ``max_templates`` distinct names, and folded to ``_other``
after that, so a publisher that puts IDs into subjects cannot blow up the
number of metric series.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Final

__all__ = ["INBOX_TEMPLATE", "OTHER_TEMPLATE", "SubjectTemplates", "subject_matches"]

INBOX_TEMPLATE: Final = "_INBOX"
OTHER_TEMPLATE: Final = "_other"

_log = logging.getLogger(__name__)


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` matches the wildcard ``pattern`` (``*``: one token, ``>``: the rest)."""
    pattern_tokens = pattern.split(".")
    subject_tokens = subject.split(".")
    for index, token in enumerate(pattern_tokens):
        if token == ">":
            return len(subject_tokens) > index
        if index >= len(subject_tokens):
            return False
        if token != "*" and token != subject_tokens[index]:
            return False
    return len(subject_tokens) == len(pattern_tokens)


class SubjectTemplates:
    """Maps concrete subjects to templates.

    Args:
        templates: wildcard subjects to fold published subjects into, first match wins.
        mapper: called first with a published subject; a returned string is the template,
            ``None`` falls through to ``templates``.
        inbox_prefix: the client's inbox prefix; subjects under it fold to ``_INBOX``.
        max_templates: distinct templates remembered before new ones fold to ``_other``.
    """

    def __init__(
        self,
        templates: Iterable[str] = (),
        mapper: Callable[[str], str | None] | None = None,
        *,
        inbox_prefix: str = "_INBOX",
        max_templates: int = 1000,
    ) -> None:
        self._templates = tuple(templates)
        self._mapper = mapper
        self._inbox = inbox_prefix + "."
        self._max = max_templates
        self._cache: dict[str, str] = {}
        self._overflow_logged = False

    def for_subscription(self, subject: str) -> str:
        """The template of a subscription: its subject, with inboxes folded."""
        return INBOX_TEMPLATE if subject.startswith(self._inbox) else subject

    def for_publish(self, subject: str) -> str:
        """The template of a published subject."""
        cached = self._cache.get(subject)
        if cached is not None:
            return cached
        template = self._resolve(subject)
        if len(self._cache) < self._max:
            self._cache[subject] = template
        elif template == subject:
            # Unmatched and nowhere left to remember it: this is the unbounded case.
            if not self._overflow_logged:
                self._overflow_logged = True
                _log.warning(
                    "natstrace: more than %d distinct subjects published; folding new ones to "
                    "%r. Configure subject templates (NATSTRACE_SUBJECT_TEMPLATES).",
                    self._max,
                    OTHER_TEMPLATE,
                )
            return OTHER_TEMPLATE
        return template

    def _resolve(self, subject: str) -> str:
        if subject.startswith(self._inbox):
            return INBOX_TEMPLATE
        if self._mapper is not None:
            try:
                mapped = self._mapper(subject)
            except Exception:
                _log.exception("natstrace: subject template mapper failed for a subject")
                mapped = None
            if mapped is not None:
                return mapped
        for pattern in self._templates:
            if subject_matches(pattern, subject):
                return pattern
        return subject
