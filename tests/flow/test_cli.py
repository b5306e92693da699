"""The ``run_*`` functions the ``natstrace`` command calls: output, errors, exit codes."""

from __future__ import annotations

import argparse
import io
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry
from rich.console import Console

from natstrace.flow import JsonLinesSpanExporter, cli, find_orphans, find_slow, read_files
from natstrace.flow.report_render import orphans_tables, slow_tables
from natstrace.metrics import start_http_server
from tests.flow.fake_jaeger import FakeJaeger, serve, traces_by_id

pytestmark = pytest.mark.integration

Adder = Callable[[argparse.ArgumentParser], None]


def _run(adder: Adder, runner: Callable[[argparse.Namespace], int], *argv: str) -> int:
    parser = argparse.ArgumentParser()
    adder(parser)
    return runner(parser.parse_args(list(argv)))


def _flow(*argv: str) -> int:
    return _run(cli.add_flow_arguments, cli.run_flow, *argv)


def _templates(hops: list[dict[str, object]]) -> list[str]:
    found: list[str] = []
    for hop in hops:
        found.append(f"{hop['service']}:{hop['template']}")
        found.extend(_templates(hop["children"]))  # type: ignore[arg-type]
    return found


def test_flow_prints_a_tree(workflow_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _flow("order-2", "-f", str(workflow_file)) == 0
    out = capsys.readouterr().out
    assert "workflow order-2" in out
    assert "CardDeclinedError: card 4000-0002 declined" in out
    assert out.index("orders") < out.index("payments") < out.index("inventory")


def test_flow_json_and_html_files(workflow_file: Path, tmp_path: Path) -> None:
    assert (
        _flow(
            "order-1", "-f", str(workflow_file), "--format", "json", "-o", str(tmp_path / "f.json")
        )
        == 0
    )
    data = json.loads((tmp_path / "f.json").read_text())
    assert "shipping:payments.authorized" in _templates(data["hops"])
    assert (
        _flow(
            "order-1", "-f", str(workflow_file), "--format", "html", "-o", str(tmp_path / "f.html")
        )
        == 0
    )
    page = (tmp_path / "f.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "http" not in page.split("<script>")[1]


def test_unknown_correlation_id_exits_1(
    workflow_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _flow("nope", "-f", str(workflow_file)) == 1
    err = capsys.readouterr().err
    assert err == "natstrace: no spans with correlation ID 'nope'\n"


def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _flow("x", "-f", str(tmp_path / "missing.jsonl")) == 2
    assert _flow("x", "-f", str(tmp_path / "missing.jsonl"), "--since", "yesterday") == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("natstrace: error: cannot read")
    assert errors[1].startswith("natstrace: error: not a time: 'yesterday'")


def test_a_partly_corrupt_file_still_answers_with_a_warning(
    workflow_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text(workflow_file.read_text() + '{"resourceSpans": [{"trunc\n')
    assert _flow("order-2", "-f", str(damaged), "--format", "json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["errors"] == 1
    assert "skipped 1 line(s) that are not OTLP JSON" in captured.err


def test_orphans_topology_and_slow(
    workflow_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ("-f", str(workflow_file))
    assert (
        _run(
            cli.add_orphans_arguments, cli.run_orphans, *source, "--grace", "0", "--format", "json"
        )
        == 0
    )
    orphans = json.loads(capsys.readouterr().out)
    assert [(o["service"], o["template"], o["count"]) for o in orphans["orphans"]] == [
        ("orders", "audit.order_placed", 1)
    ]
    assert _run(cli.add_topology_arguments, cli.run_topology, *source, "--format", "dot") == 0
    dot = capsys.readouterr().out
    assert '"payments" -> "shipping"' in dot and '"orders" -> "(nobody)"' in dot
    assert _run(cli.add_topology_arguments, cli.run_topology, *source, "--format", "mermaid") == 0
    assert capsys.readouterr().out.startswith("flowchart LR")
    assert (
        _run(cli.add_slow_arguments, cli.run_slow, *source, "--format", "json", "--limit", "1") == 0
    )
    slow = json.loads(capsys.readouterr().out)
    assert slow["hops_checked"] == 5 and len(slow["slowest"]) == 1
    assert _run(cli.add_slow_arguments, cli.run_slow, *source) == 0
    assert "slowest hops" in capsys.readouterr().out


def test_flow_from_jaeger_joins_the_linked_trace(
    workflow_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(FakeJaeger(traces_by_id(workflow_file))) as jaeger:
        code = _flow("order-1", "--jaeger", jaeger.url, "--service", "shipping", "--format", "json")
    assert code == 0
    hops = _templates(json.loads(capsys.readouterr().out)["hops"])
    # The search found shipping's own trace; the payments trace came by its link.
    assert hops[:3] == ["orders:orders.created", "payments:orders.*", "payments:inventory.reserve"]
    assert "shipping:payments.authorized" in hops
    assert any(r.startswith("/api/v3/traces/") for r in jaeger.requests)
    search = next(r for r in jaeger.requests if r.startswith("/api/v3/traces?"))
    assert "query.service_name=shipping" in search and "query.start_time_min=" in search


def test_jaeger_without_a_service_searches_every_service(
    workflow_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(FakeJaeger(traces_by_id(workflow_file))) as jaeger:
        assert (
            _run(cli.add_orphans_arguments, cli.run_orphans, "--jaeger", jaeger.url, "--grace", "0")
            == 0
        )
    assert jaeger.requests[0] == "/api/v3/services"
    assert "audit.order_placed" in capsys.readouterr().out


def test_jaeger_errors_exit_2_and_no_match_exits_1(
    workflow_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(FakeJaeger(traces_by_id(workflow_file))) as jaeger:
        jaeger.status = 500
        assert _flow("order-1", "--jaeger", jaeger.url, "--service", "orders") == 2
        jaeger.status = None
        # Jaeger answers a search that found nothing with 404: no spans, not an error.
        assert _flow("order-1", "--jaeger", jaeger.url, "--service", "nobody") == 1
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert _flow("order-1", "--jaeger", f"http://127.0.0.1:{port}", "--service", "x") == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0] == (
        f"natstrace: error: Jaeger at {jaeger.url} answered HTTP 500 for /api/v3/services: "
        "storage failed"
    )
    assert errors[1] == "natstrace: the source holds no spans"
    assert errors[2].startswith(f"natstrace: error: cannot reach Jaeger at http://127.0.0.1:{port}")
    assert len(errors) == 3


def test_an_address_that_is_not_jaeger_is_named_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Something real that answers 404 to Jaeger's paths: natstrace's own metrics endpoint.
    server = start_http_server(0, "127.0.0.1", CollectorRegistry())
    try:
        url = f"http://127.0.0.1:{server.address[1]}"
        assert _flow("order-1", "--jaeger", url, "--service", "orders") == 2
        assert _run(cli.add_orphans_arguments, cli.run_orphans, "--jaeger", url) == 2
    finally:
        server.shutdown()
    assert _flow("order-1", "--jaeger", "not-a-url") == 2
    assert _flow("order-1", "--jaeger", "localhost:16686") == 2
    errors = capsys.readouterr().err.splitlines()
    not_jaeger = (
        f"natstrace: error: {url} is not Jaeger's query API: /api/v3/services answered "
        "HTTP 404 (Jaeger v2 serves it on its query port, 16686 by default)"
    )
    assert errors == [
        not_jaeger,
        not_jaeger,
        "natstrace: error: not a Jaeger address: 'not-a-url' (give its query API's URL, "
        "for example http://localhost:16686)",
        "natstrace: error: not a Jaeger address: 'localhost:16686' (give its query API's URL, "
        "for example http://localhost:16686)",
    ]


def test_trace_ids_are_whole_even_in_a_narrow_terminal(workflow_file: Path) -> None:
    spans = read_files([workflow_file]).spans
    console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    for table in slow_tables(find_slow(spans, limit=3)):
        console.print(table)
    for renderable in orphans_tables(find_orphans(spans)):
        console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    shown = set(re.findall(r"\b[0-9a-f]{32}\b", out))
    assert len(shown) >= 3 and shown <= {span.trace_id for span in spans}
    assert max(len(line) for line in out.splitlines()) <= 60


def test_orphans_waits_for_recent_sends_only_while_the_file_is_written(
    workflow_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "live.jsonl"
    copy.write_text(workflow_file.read_text())
    args = ("-f", str(copy), "--grace", "3600")
    writer = JsonLinesSpanExporter(copy)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(writer))
    provider.get_tracer("test").start_span("still writing").end()
    try:
        assert _run(cli.add_orphans_arguments, cli.run_orphans, *args) == 0
        live = capsys.readouterr().out
    finally:
        provider.shutdown()
    assert _run(cli.add_orphans_arguments, cli.run_orphans, *args) == 0
    finished = capsys.readouterr().out

    assert "(0 sends checked)" in live
    assert "not judged yet: 6 newer send(s); the source is still being written" in live
    assert "audit.order_placed" not in live
    assert "(6 sends checked)" in finished and "audit.order_placed" in finished
    assert "not judged yet" not in finished
