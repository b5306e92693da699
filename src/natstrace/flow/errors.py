"""The errors the flow tools raise; each message is one line fit for a terminal."""

from __future__ import annotations

__all__ = ["FlowError", "NoSpansError", "SourceError"]


class FlowError(Exception):
    """Base of every flow-tool error; ``str(error)`` is a one-line explanation."""


class SourceError(FlowError):
    """A span source could not be read: a missing file, Jaeger down or answering an error."""


class NoSpansError(FlowError):
    """The sources were readable but hold nothing for the question asked."""
