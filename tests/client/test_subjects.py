"""Subject templates keep span names and metric labels bounded."""

from __future__ import annotations

import pytest

from natstrace.client.subjects import SubjectTemplates, subject_matches


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("orders.*", "orders.created", True),
        ("orders.*", "orders.created.v2", False),
        ("orders.>", "orders.created.v2", True),
        ("orders.>", "orders", False),
        ("orders.*.created", "orders.42.created", True),
        ("orders.*.created", "orders.42.deleted", False),
        ("a.b", "a.b", True),
    ],
)
def test_wildcard_matching(pattern: str, subject: str, expected: bool) -> None:
    assert subject_matches(pattern, subject) is expected


def test_published_subjects_fold_into_templates_mapper_first() -> None:
    templates = SubjectTemplates(
        ["orders.*.created"], mapper=lambda s: "tenant.*" if s.startswith("tenant.") else None
    )
    assert templates.for_publish("orders.7.created") == "orders.*.created"
    assert templates.for_publish("tenant.acme") == "tenant.*"
    assert templates.for_publish("_INBOX.abc.def") == "_INBOX"
    assert templates.for_publish("plain") == "plain"
    assert templates.for_subscription("_INBOX.abc.*") == "_INBOX"
    assert templates.for_subscription("payments.*") == "payments.*"


def test_a_failing_mapper_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    templates = SubjectTemplates(mapper=lambda s: 1 / 0)  # type: ignore[arg-type, return-value]
    assert templates.for_publish("x.y") == "x.y"
    assert "mapper failed" in caplog.text


def test_unmatched_subjects_beyond_the_limit_fold_to_other() -> None:
    templates = SubjectTemplates(["known.*"], max_templates=10)
    names = {templates.for_publish(f"order.{i}") for i in range(100)}
    assert len(names) == 11
    assert "_other" in names
    assert templates.for_publish("known.999") == "known.*", "matches still resolve when full"
