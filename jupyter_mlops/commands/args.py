"""The argument parser of the command tree, and the value types its options share."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any, NoReturn, TypeAlias

from jupyter_mlops.errors import InvalidInput, did_you_mean


class UsageError(InvalidInput):
    """The command line could not be parsed."""

    kind = "UsageError"


class HelpShown(Exception):
    """``--help`` was printed; there is nothing else to do."""


class CommandParser(argparse.ArgumentParser):
    """An argparse parser that raises instead of exiting, so a magic never kills its kernel.

    A mistyped command, subcommand or choice is answered with the one it resembles
    (``jupyter mlops deplyo`` -> "Did you mean deploy?").
    """

    #: Commands left out of the help and of suggestions (the cell magics, in a terminal).
    hidden: frozenset[str] = frozenset()

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"See `{self.prog} --help`.")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own message lists every choice (27 commands) and guesses none.
        if action.choices is None or value in action.choices:
            return
        choices = [str(c) for c in action.choices if c not in self.hidden]
        if isinstance(action, argparse._SubParsersAction):
            what = "command" if action.dest == "command" else "subcommand"
            message = f"{self.prog}: unknown {what} '{value}'"
            # One guess: "deplyo" is deploy, not also replay or demo.
            hint = did_you_mean(str(value), choices, listing=f"{what.capitalize()}s", n=1, shown=50)
        else:
            name = "/".join(action.option_strings) or str(action.metavar or action.dest)
            message = f"{self.prog}: {name}: invalid choice '{value}'"
            hint = did_you_mean(str(value), choices, listing="Choices")
        raise UsageError(message, hint=f"{hint} See `{self.prog} --help`.".strip())

    def hide_commands(self, names: frozenset[str]) -> None:
        """Leave ``names`` out of this parser's command list and suggestions (they still parse)."""
        self.hidden = names
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                action._choices_actions = [
                    a for a in action._choices_actions if a.dest not in names
                ]

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise HelpShown()


def csv_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def iso_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time like 2026-01-31 or 2026-01-31T12:00:00Z, got {value!r}"
        ) from None


#: Where a command module adds its subcommands.
Subcommands: TypeAlias = "argparse._SubParsersAction[CommandParser]"


def add_group(sub: Subcommands, name: str, help: str) -> Subcommands:
    """A command with subcommands of its own (``features list``, ``deployments stop``), each of
    which must be given."""
    group = sub.add_parser(name, help=help)
    subcommands = group.add_subparsers(
        dest=f"{name}_command", metavar="SUBCOMMAND", parser_class=CommandParser
    )
    subcommands.required = True
    return subcommands
