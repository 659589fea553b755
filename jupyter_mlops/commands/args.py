"""The argument parser of the command tree, and the value types its options share."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import NoReturn, TypeAlias

from jupyter_mlops.errors import InvalidInput


class UsageError(InvalidInput):
    """The command line could not be parsed."""

    kind = "UsageError"


class HelpShown(Exception):
    """``--help`` was printed; there is nothing else to do."""


class CommandParser(argparse.ArgumentParser):
    """An argparse parser that raises instead of exiting, so a magic never kills its kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"See `{self.prog} --help`.")

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
