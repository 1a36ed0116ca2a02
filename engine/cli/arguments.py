"""Command-line argument checks: the parser's error format and the numeric option types."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

USAGE_EXIT = 1  # a bad argument is an error at start; 2 means a forced stop to a supervisor
ROOT = "engine"
"""The root parser's name (its commands' parsers are named ``engine COMMAND``)."""


class Parser(argparse.ArgumentParser):
    """``argparse`` with the engine's error format: one ``engine:`` line and a hint, exit 1.

    An option is never taken by a prefix of its name (``--migrat`` is refused, not run as
    ``--migrate``): a typo must not pass for another option.
    """

    def __init__(self, *args: Any, **options: Any) -> None:
        options.setdefault("allow_abbrev", False)
        super().__init__(*args, **options)

    def error(self, message: str) -> NoReturn:
        """Report a bad command line and exit with ``USAGE_EXIT``."""
        # the root parser reports an unknown option of any command: name where options are
        hint = (f"{self.prog} --help lists the commands, and {self.prog} COMMAND --help"
                " the options of each" if self.prog == ROOT else
                f"{self.prog} --help lists the options and what each takes")
        self.exit(USAGE_EXIT, f"engine: {message}\nhint: {hint}\n")


def at_least(minimum: int) -> Callable[[str], int]:
    """An argument type: an integer no smaller than ``minimum``."""
    def parse(text: str) -> int:
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum} (got {text!r})")
        return value
    return parse


def port(text: str) -> int:
    """An argument type: a TCP port, 0 (any free port) to 65535."""
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"must be a TCP port from 1 to 65535, or 0 for any free one (got {text!r})")
    return value


def seconds(text: str) -> float:
    """An argument type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds (got {text!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0 (got {text!r})")
    return value


def topic_spec(text: str) -> tuple[str, int]:
    """An argument type: ``NAME`` or ``NAME:PARTITIONS`` (at least 1) -> (name, partitions)."""
    name, colon, count = text.partition(":")
    if not name or (colon and not (count.isdigit() and int(count) >= 1)):
        raise argparse.ArgumentTypeError(
            f"takes NAME or NAME:PARTITIONS with PARTITIONS >= 1 (got {text!r})")
    return name, int(count or 1)


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer (got {text!r})") from None
