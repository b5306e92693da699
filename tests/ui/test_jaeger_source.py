"""The console on Jaeger's query API: polled, and every hop linked to its trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from natstrace.ui import SourceConfig, SpanStore, UiServer
from tests.flow.fake_jaeger import FakeJaeger, serve, traces_by_id


@pytest.mark.integration
def test_hops_link_to_their_traces_and_new_traces_appear(
    demo_file: Path, page: Any, tmp_path: Path
) -> None:
    traces = traces_by_id(demo_file)
    held_back = sorted(traces)[0]
    jaeger = FakeJaeger({k: v for k, v in traces.items() if k != held_back})
    with serve(jaeger):
        store = SpanStore(SourceConfig(jaeger_url=jaeger.url))
        assert store.refresh() is True
        before = len(store.snapshot.spans)
        with UiServer(store, "127.0.0.1", 0) as console:
            workflow = next(
                w.correlation_id
                for w in store.snapshot.workflows
                if w.correlation_id.endswith("-0001")
            )
            page.goto(f"{console.url}#/workflow/{workflow}")
            page.wait_for_selector("#waterfall[data-rendered]")
            page.screenshot(path=tmp_path / "jaeger.png", full_page=True)

            links = page.eval_on_selector_all(
                "#waterfall .wrow[data-span-id]",
                "rows => rows.map(r => r.querySelector('a.jaeger').href)",
            )
            details = store.snapshot.index.by_key
            expected = [
                f"{jaeger.url}/trace/{span.trace_id}"
                for span in (
                    next(s for k, s in details.items() if k[1] == row_span)
                    for row_span in page.eval_on_selector_all(
                        "#waterfall .wrow[data-span-id]", "rs => rs.map(r => r.dataset.spanId)"
                    )
                )
            ]
            assert links == expected
            assert len(set(links)) > 1  # the workflow spans several traces

        # The next poll brings the trace Jaeger did not have before.
        jaeger.traces[held_back] = traces[held_back]
        assert store.refresh() is True
        assert len(store.snapshot.spans) > before
        assert store.refresh() is False
