"""A real demo run served by a real ``natstrace ui``, and a real headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from natstrace.ui import SourceConfig, SpanStore, UiServer
from tests.demo.processes import DemoProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ORDERS = 6
"""Order 1's shipment fails twice and order 4's once (redelivered), order 3 is declined."""


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OTLP JSON lines file of one finished ``natstrace demo`` run."""
    workdir = tmp_path_factory.mktemp("ui-demo")
    trace_file = workdir / "demo.jsonl"
    demo = DemoProcess.start(
        ["--orders", str(ORDERS), "--interval", "0.02", "--trace-file", str(trace_file)],
        cwd=workdir,
    )
    returncode, output = demo.finish(timeout=60)
    assert returncode == 0, output
    (workdir / "demo.out").write_text(output)
    return trace_file


def serve(files: list[Path]) -> UiServer:
    """A started console on a free loopback port, its data read once."""
    store = SpanStore(SourceConfig(files=files))
    store.refresh()
    server = UiServer(store, "127.0.0.1", 0, refresh_seconds=0.2)
    server.start()
    return server


@pytest.fixture(scope="module")
def demo_console(demo_file: Path) -> Iterator[UiServer]:
    server = serve([demo_file])
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download).

    Module-scoped: Playwright's sync API keeps an event loop running on the main
    thread while it is open, which any later asyncio test would trip over.
    """
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no state shared between tests), 1400 px wide;
    a script error on the page fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors
