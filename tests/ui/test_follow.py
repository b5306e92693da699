"""The console follows a trace file while the system writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from natstrace.flow import read_files
from natstrace.ui import SourceConfig, SpanStore
from tests.ui.conftest import serve


def test_a_growing_file_is_followed_line_by_line(demo_file: Path, tmp_path: Path) -> None:
    lines = demo_file.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    live = tmp_path / "live.jsonl"
    store = SpanStore(SourceConfig(files=[live]))

    assert store.refresh() is False  # not written yet: nothing, and no error
    assert store.error is None

    live.write_bytes(b"".join(lines[:half]))
    assert store.refresh() is True
    first = store.snapshot
    assert len(first.spans) > 0

    # A line the writer has not finished is left for the next poll.
    rest = b"".join(lines[half:])
    with live.open("ab") as handle:
        handle.write(rest[:-10])
    store.refresh()
    partial = len(store.snapshot.spans)
    with live.open("ab") as handle:
        handle.write(rest[-10:])
    assert store.refresh() is True
    whole = store.snapshot
    assert partial < len(whole.spans)
    assert whole.generation > first.generation
    assert {w.correlation_id for w in whole.workflows} == {
        span.conversation_id for span in whole.spans if span.conversation_id
    }
    assert store.refresh() is False  # nothing new: the same snapshot stays

    # The file rewritten by a new run (shorter): read again from the start.
    live.write_bytes(lines[0])
    assert store.refresh() is True
    expected = [span.span_id for span in read_files([live]).spans]
    assert [span.span_id for span in store.snapshot.spans] == expected


def test_a_source_that_fails_says_why() -> None:
    store = SpanStore(SourceConfig(jaeger_url="http://127.0.0.1:9"))

    assert store.refresh() is False
    assert store.error is not None and "cannot reach Jaeger" in store.error


@pytest.mark.integration
def test_the_open_page_shows_workflows_as_they_are_written(
    demo_file: Path, page: Any, tmp_path: Path
) -> None:
    lines = demo_file.read_bytes().splitlines(keepends=True)
    live = tmp_path / "live.jsonl"
    console = serve([live])
    try:
        page.goto(console.url)
        page.wait_for_selector("#workflows .empty")
        assert "waiting for spans" in page.text_content("#workflows")

        live.write_bytes(b"".join(lines))
        # No reload: the page notices the new data by itself.
        page.wait_for_selector("#workflows tr[data-correlation-id]", timeout=15_000)
        rows = page.eval_on_selector_all("#workflows tr[data-correlation-id]", "rs => rs.length")
        assert rows == len(console.store.snapshot.workflows) == 6
    finally:
        console.close()
