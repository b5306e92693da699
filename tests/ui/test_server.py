"""The console's server: where it listens, what it answers, what it escapes."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from natstrace.ui import SourceConfig, SpanStore, UiServer, is_loopback
from tests.ui.conftest import serve

HOSTILE = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>"


def _request(
    server: UiServer, path: str, method: str = "GET", host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _span(name: str, span_id: str, attributes: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "traceId": "ab" * 16,
        "spanId": span_id,
        "name": name,
        "kind": extra.pop("kind", 4),
        "startTimeUnixNano": str(1_700_000_000_000_000_000 + int(span_id, 16)),
        "endTimeUnixNano": str(1_700_000_000_001_000_000 + int(span_id, 16)),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
        **extra,
    }


def _hostile_file(path: Path) -> Path:
    """A workflow whose service, span names, attributes and error carry markup."""
    base = {"messaging.system": "nats", "messaging.message.conversation_id": HOSTILE}
    send = _span(
        f"send {HOSTILE}",
        "01" * 8,
        {
            **base,
            "messaging.operation.type": "send",
            "messaging.destination.template": HOSTILE,
            "messaging.message.id": "m1",
        },
    )
    process = _span(
        f"process {HOSTILE}",
        "02" * 8,
        {
            **base,
            "messaging.operation.type": "process",
            "messaging.destination.template": HOSTILE,
            "messaging.message.id": "m1",
            "error.type": HOSTILE,
            "custom": HOSTILE,
        },
        kind=5,
        parentSpanId="01" * 8,
        status={"code": 2, "message": HOSTILE},
    )
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": HOSTILE}}]}
    scope = {"spans": [send, process]}
    request = {"resourceSpans": [{"resource": resource, "scopeSpans": [scope]}]}
    path.write_text(json.dumps(request) + "\n")
    return path


@pytest.fixture
def console(tmp_path: Path) -> Iterator[UiServer]:
    server = serve([_hostile_file(tmp_path / "hostile.jsonl")])
    yield server
    server.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_a_non_local_address_is_refused_unless_asked(host: str) -> None:
    with pytest.raises(ValueError, match="--allow-remote"):
        UiServer(SpanStore(SourceConfig(files=[])), host, 0)


def test_the_command_refuses_a_non_local_address_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "natstrace.cli", "ui", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )

    assert result.returncode == 2
    assert "refusing to serve on '0.0.0.0'" in result.stderr
    assert "--allow-remote" in result.stderr


def test_loopback_names_are_told_from_the_rest() -> None:
    assert all(map(is_loopback, ["localhost", "127.0.0.1", "::1", "127.1.2.3"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.0.2.1", "no-such-host.invalid"]))


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/static/",
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/../../../../etc/passwd",
        "/static/app.js/..",
        "/api",
        "/api/workflows/",
        "/index.html",
    ],
)
def test_only_its_own_routes_are_served(console: UiServer, path: str) -> None:
    status, headers, body = _request(console, path)

    assert status == 404
    assert json.loads(body) == {"error": "no such page"}
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_its_own_routes_answer_with_a_locked_down_policy(console: UiServer) -> None:
    for path in ["/", "/static/app.js", "/static/app.css", "/api/status", "/api/workflows"]:
        status, headers, _ = _request(console, path)
        assert status == 200, path
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_writes_other_hosts_and_unknown_workflows_are_refused(console: UiServer) -> None:
    assert _request(console, "/api/status", method="POST")[0] == 405
    assert _request(console, "/api/status", method="DELETE")[0] == 405
    # A page elsewhere that rebinds its name to 127.0.0.1 still sends its own Host.
    assert _request(console, "/api/status", host="attacker.example")[0] == 403
    assert _request(console, "/api/status", host="localhost:1234")[0] == 200
    assert _request(console, "/api/workflow?id=nobody")[0] == 404
    assert _request(console, "/api/workflows?limit=x")[0] == 400


@pytest.mark.integration
def test_markup_from_spans_is_shown_as_text_everywhere(console: UiServer, page: Any) -> None:
    workflow = f"#/workflow/{quote(HOSTILE, safe='')}"
    views = {
        "#/": "#workflows tr[data-correlation-id]",
        workflow: "#waterfall[data-rendered]",
        f"{workflow}?view=sequence": "#sequence[data-rendered]",
        "#/topology": "#topology g.edge",
        "#/slow": "h2",
    }
    for view, ready in views.items():
        page.goto(console.url + view)
        page.wait_for_selector(ready)
        assert page.evaluate("window.pwned") is None, view
        # Nothing from the data became an element: no img, no script beyond the page's own.
        assert page.locator("img").count() == 0, view
        assert page.locator("script").count() == 1, view
        assert HOSTILE in page.locator("main").text_content(), view
