"""The demo's flags and its simulated world (no processes)."""

from __future__ import annotations

from natstrace.cli import _parser
from natstrace.demo import DemoOptions, scenario
from natstrace.demo.options import DEFAULT_ORDERS


def test_messages_is_an_alias_of_orders() -> None:
    args = _parser().parse_args(["demo", "--messages", "0", "--metrics-port", "9464"])
    assert args.orders == 0 and args.metrics_port == 9464


def test_order_limit_defaults() -> None:
    assert DemoOptions().order_limit == DEFAULT_ORDERS
    assert DemoOptions(duration=5).order_limit == 0
    assert DemoOptions(orders=3, duration=5).order_limit == 3


def test_every_short_run_shows_each_path() -> None:
    first_six = range(1, 7)
    assert [n for n in first_six if scenario.is_declined(n)] == [3]
    assert [scenario.transient_failures(n) for n in first_six] == [2, 0, 0, 1, 0, 0]
    hundred = range(1, 101)
    assert 20 <= sum(map(scenario.is_declined, hundred)) <= 30
