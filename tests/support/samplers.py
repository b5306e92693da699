"""A custom sampler for tests: one that may read attributes, as a user's could."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState


class SeeingSampler(Sampler):
    """Decides ``decision`` every time, noting the attributes each decision was given."""

    def __init__(self, decision: Decision = Decision.DROP) -> None:
        self.decision = decision
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        self.seen.append(dict(attributes or {}))
        return SamplingResult(self.decision, attributes)

    def get_description(self) -> str:
        return "Seeing"
