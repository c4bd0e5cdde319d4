"""Every command line the tool suggests to a user in trouble must exist, options included."""

from __future__ import annotations

import re

import click
import pytest

from do_pgpool.cli import main
from do_pgpool.postgres._connect import SATURATED_ADVICE

SUGGESTED = re.findall(r": do-pgpool ([a-z-]+)((?: --[a-z-]+(?: [A-Z]+)?)*)", SATURATED_ADVICE)


def test_the_saturation_advice_suggests_commands() -> None:
    assert len(SUGGESTED) >= 4


@pytest.mark.parametrize(("name", "options"), SUGGESTED)
def test_suggested_commands_and_options_exist(name: str, options: str) -> None:
    command = main.get_command(click.Context(main), name)  # lazy group: load the command by name
    assert isinstance(command, click.Command), f"do-pgpool {name} does not exist"
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for option in re.findall(r"--[a-z-]+", options):
        assert option in known, f"do-pgpool {name} has no {option}"
