"""Every script in ``examples/`` runs as a user runs it, against a real nats-server;
the README's Quick start is ``examples/quickstart.py``, verbatim."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from natstrace.embedded_server import EmbeddedNatsServer
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
QUICKSTART = ROOT / "examples" / "quickstart.py"


def _run(script: Path, nats_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    # No OTEL_* from the environment of the test run: the example sees what a user sets.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, str(script), nats_url],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _console_spans(output: str) -> list[dict[str, Any]]:
    """The span objects the console exporter printed, in order, among other lines."""
    decoder = json.JSONDecoder()
    spans, position = [], 0
    while (start := output.find("{", position)) != -1:
        try:
            found, position = decoder.raw_decode(output, start)
        except ValueError:
            position = start + 1
            continue
        if isinstance(found, dict) and "context" in found:
            spans.append(found)
    return spans


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_example_runs_without_a_collector(
    script: Path, nats_server: EmbeddedNatsServer
) -> None:
    done = _run(script, nats_server.url, OTEL_TRACES_EXPORTER="console")
    assert _console_spans(done.stdout), done.stdout


def test_the_quick_start_prints_one_workflow_on_the_console(
    nats_server: EmbeddedNatsServer,
) -> None:
    done = _run(QUICKSTART, nats_server.url, OTEL_TRACES_EXPORTER="console")

    assert "payments.authorized: order 42, workflow order-42" in done.stdout
    spans = _console_spans(done.stdout)
    assert sorted(span["name"] for span in spans) == [
        "process orders.*",
        "process payments.authorized",
        "send orders.created",
        "send payments.authorized",
    ]
    assert {span["context"]["trace_id"] for span in spans} == {spans[0]["context"]["trace_id"]}
    assert {span["attributes"]["messaging.message.conversation_id"] for span in spans} == {
        "order-42"
    }
    assert "Traceback" not in done.stderr


def test_the_quick_start_exports_over_otlp(
    nats_server: EmbeddedNatsServer, otlp_receiver: OtlpReceiver
) -> None:
    _run(QUICKSTART, nats_server.url, OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.http_endpoint)

    spans = otlp_receiver.wait_for(4)
    assert {(span.service_name, span.name) for span in spans} == {
        ("payments", "send orders.created"),
        ("payments", "process orders.*"),
        ("payments", "send payments.authorized"),
        ("payments", "process payments.authorized"),
    }
    assert len({span.trace_id for span in spans}) == 1


def test_the_readme_quick_start_is_the_example() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert QUICKSTART.read_text() in blocks, "README.md Quick start: paste examples/quickstart.py"


def test_the_jetstream_example_traces_publish_fetch_and_each_message(
    nats_server: EmbeddedNatsServer,
) -> None:
    done = _run(
        ROOT / "examples" / "jetstream_pull.py", nats_server.url, OTEL_TRACES_EXPORTER="console"
    )

    assert done.stdout.count("billed order ") == 3
    names = [span["name"] for span in _console_spans(done.stdout)]
    assert names.count("send example.orders.created") == 3
    assert names.count("process example.orders.*") == 3
    assert names.count("receive EXAMPLE_ORDERS/billing") == 1
    process = [s for s in _console_spans(done.stdout) if s["name"].startswith("process")]
    assert all(any(e["name"] == "ack" for e in span["events"]) for span in process)
