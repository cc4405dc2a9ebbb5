"""`python -m tests.docs.parse_only hub --verbose`: an `lgsp` command line parsed exactly as `lgsp` parses it,
and then nothing run.

The docs' samples of commands that serve until stopped or run for minutes (`lgsp hub`, `lgsp demo`,
`lgsp simulate`...) are checked this way: the subcommand, every option and every value (type, range,
choice, required options) must be accepted, with the same messages and exit status as the real command.
"""

import sys
from importlib.metadata import entry_points
from typing import Any

import typer

from lgsp.cli import app


def _disarm(command: Any) -> None:
    """Every leaf command's callback replaced by one that does nothing."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        command.callback = lambda **_: None
        return
    for sub in subcommands.values():
        _disarm(sub)


def main(argv: list[str]) -> None:
    for plugin in entry_points(group="lgsp.commands"):  # as lgsp.cli.main does
        plugin.load()(app)
    command = typer.main.get_command(app)
    _disarm(command)
    command.main(argv, prog_name="lgsp", standalone_mode=True)


if __name__ == "__main__":
    main(sys.argv[1:])
