"""``assert_metric_changed``: passes on the right delta, explains a wrong one."""

from __future__ import annotations

import pytest
from opentelemetry.trace import INVALID_SPAN_CONTEXT

from natstrace.testing import MetricsCapture, assert_metric_changed

SENT = "messaging_client_sent_messages_total"


def send(capture: MetricsCapture, template: str) -> None:
    capture.metrics.record_send("send", template, "", 0.001, INVALID_SPAN_CONTEXT)


def test_a_delta_for_some_labels_sums_the_matching_series(
    natstrace_metrics: MetricsCapture,
) -> None:
    send(natstrace_metrics, "orders.created")
    before = natstrace_metrics.snapshot()
    send(natstrace_metrics, "orders.created")
    send(natstrace_metrics, "orders.created")
    send(natstrace_metrics, "invoices.issued")

    natstrace_metrics.assert_changed(
        SENT, by=2, since=before, messaging_destination_name="orders.created"
    )
    natstrace_metrics.assert_changed(SENT, by=3, since=before)
    assert_metric_changed(natstrace_metrics.metrics, SENT, by=4)
    assert natstrace_metrics.value(SENT, messaging_destination_name="invoices.issued") == 1


def test_a_wrong_delta_shows_every_series_and_which_labels_differ(
    natstrace_metrics: MetricsCapture,
) -> None:
    before = natstrace_metrics.snapshot()
    send(natstrace_metrics, "orders.created")
    with pytest.raises(AssertionError) as failure:
        natstrace_metrics.assert_changed(
            SENT, by=1, since=before, messaging_destination_name="orders.*"
        )
    series = (
        'messaging_client_sent_messages_total{error_type="",messaging_destination_name='
        '"orders.created",messaging_operation_name="send",messaging_system="nats",'
        'service_name="test"}'
    )
    assert str(failure.value) == (
        'messaging_client_sent_messages_total{messaging_destination_name="orders.*"} '
        "changed by 0 (from 0 to 0), expected 1\n"
        "samples of messaging_client_sent_messages_total now:\n"
        f"  {series} 1 (was 0)   (labels differ)"
    )


def test_an_unknown_sample_name_suggests_the_real_ones(
    natstrace_metrics: MetricsCapture,
) -> None:
    send(natstrace_metrics, "orders.created")
    with pytest.raises(AssertionError, match=r"similar: .*messaging_client_sent_messages_total"):
        natstrace_metrics.assert_changed("messaging_client_sent_messages", by=1)
