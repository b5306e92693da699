"""Every ``natstrace`` sub-command says what it does, and every option has help."""

from __future__ import annotations

import argparse

import pytest

from natstrace.cli import _parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_subcommand_has_a_description_and_help_on_every_option(name: str) -> None:
    parser = _subcommands()[name]
    assert parser.description, f"natstrace {name} --help has no description"
    undocumented = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._HelpAction)
    ]
    assert undocumented == [], f"natstrace {name}: options without help text"
