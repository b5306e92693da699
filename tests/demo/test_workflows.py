"""The flow tools find the demo's stories in its trace file: the saga's
compensation, the redelivered shipments, and the event nobody consumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from natstrace.cli import main
from natstrace.flow import Span, find_orphans, flow_to_dict, reconstruct_flow
from tests.demo.conftest import ORDERS, DemoRun

pytestmark = pytest.mark.integration


def _order(spans: list[Span], number: int) -> str:
    suffix = f"-{number:04d}"
    return next(
        s.conversation_id for s in spans if s.conversation_id and s.conversation_id.endswith(suffix)
    )


def _hops(hops: list[dict[str, Any]], depth: int = 0) -> list[tuple[int, dict[str, Any]]]:
    found = []
    for hop in hops:
        found.append((depth, hop))
        found.extend(_hops(hop["children"], depth + 1))
    return found


def _path(hops: list[dict[str, Any]], steps: list[tuple[str, str, str]]) -> bool:
    """Whether the tree holds ``steps`` as a chain, each hop a child of the previous."""
    if not steps:
        return True
    service, operation, template = steps[0]
    return any(
        (hop["service"], hop["operation"], hop["template"]) == (service, operation, template)
        and _path(hop["children"], steps[1:])
        for hop in hops
    )


def _chain_anywhere(hops: list[dict[str, Any]], steps: list[tuple[str, str, str]]) -> bool:
    return any(_path([hop], steps) for _, hop in _hops(hops))


def test_a_declined_payment_is_compensated_by_the_saga(demo_run: DemoRun) -> None:
    spans = demo_run.spans
    data = flow_to_dict(reconstruct_flow(spans, _order(spans, 3)))

    # Choreography: payments reacts to the order and declines; orchestration: the
    # saga releases the reservation it made (the compensation) and cancels.
    assert _path(
        data["hops"],
        [
            ("orders", "send", "orders.created"),
            ("payments", "process", "orders.created"),
            ("payments", "send", "payments.declined"),
            ("orchestrator", "process", "payments.*"),
            ("orchestrator", "send", "inventory.release"),
            ("inventory", "process", "inventory.release"),
        ],
    )
    assert _path(
        data["hops"],
        [
            ("orders", "send", "orders.created"),
            ("orchestrator", "process", "orders.created"),
            ("orchestrator", "send", "inventory.reserve"),
            ("inventory", "process", "inventory.reserve"),
        ],
    )
    assert _chain_anywhere(
        data["hops"],
        [
            ("orchestrator", "process", "payments.*"),
            ("orchestrator", "send", "orders.cancelled"),
            ("orders", "process", "orders.cancelled"),
        ],
    )
    templates = {hop["template"] for _, hop in _hops(data["hops"])}
    assert "shipments.requested" not in templates
    assert data["errors"] == 0


def test_failed_shipments_are_redelivered_then_acknowledged(demo_run: DemoRun) -> None:
    spans = demo_run.spans
    data = flow_to_dict(reconstruct_flow(spans, _order(spans, 1)))

    deliveries = [
        hop
        for _, hop in _hops(data["hops"])
        if hop["operation"] == "process" and hop["template"] == "shipments.requested"
    ]
    assert [d["delivery_count"] for d in deliveries] == [1, 2, 3]
    assert [d["settlement"] for d in deliveries] == ["nak", "nak", "ack"]
    assert [d["error"]["type"] if d["error"] else None for d in deliveries] == [
        "CarrierUnavailableError",
        "CarrierUnavailableError",
        None,
    ]
    # Redeliveries start traces of their own (policy auto); the workflow joins them.
    assert len({d["trace_id"] for d in deliveries}) == 3
    assert all(d["from_service"] == "orchestrator" for d in deliveries)
    assert _path(
        deliveries[-1]["children"],
        [
            ("shipping", "send", "shipments.dispatched"),
            ("orchestrator", "process", "shipments.dispatched"),
        ],
    )
    redelivered = {s.conversation_id for s in spans if s.is_process and s.delivery_count > 1}
    assert {c[-4:] for c in redelivered if c} == {"0001", "0004"}


def test_the_audit_event_is_the_only_orphan(demo_run: DemoRun) -> None:
    report = find_orphans(demo_run.spans, grace_ns=0)

    assert [(g.service, g.template, g.count) for g in report.groups] == [
        ("orders", "orders.audit", ORDERS)
    ]


def test_natstrace_flow_reads_the_file(
    demo_run: DemoRun, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    order = _order(demo_run.spans, 4)
    assert main(["flow", order, "-f", str(demo_run.trace_file)]) == 0
    out = capsys.readouterr().out
    assert f"workflow {order}" in out and "delivery #2" in out
