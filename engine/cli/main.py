"""Entry point of the ``engine`` command: parses arguments and picks the exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.cli import info
from engine.cli.target import TargetError, UserCodeError, load_app
from engine.errors import ConfigError, PluginError, RoutingError
from engine.routing.selection import Selection

EXIT_OK, EXIT_START_ERROR = 0, 1


def parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    root = argparse.ArgumentParser(prog="engine", description="Run Kafka consumers.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser("info", help="routes, subscription groups, settings, lifecycle")
    show.add_argument("target", metavar="TARGET", help="module:attribute, module, or file.py")
    _filters(show)
    return root


def _filters(command: argparse.ArgumentParser) -> None:
    for kind in ("consumer-group", "subscription-group", "topic"):
        dest = kind.replace("-", "_") + "s"
        command.add_argument(f"--{kind}", dest=dest, action="append", default=[],
                             metavar="NAME", help=f"only this {kind} (repeatable)")
        command.add_argument(f"--exclude-{kind}", dest="exclude_" + dest, action="append",
                             default=[], metavar="NAME", help=f"skip this {kind} (repeatable)")


def selection(args: argparse.Namespace) -> Selection:
    """The route filters given on the command line."""
    kinds = ("consumer_groups", "subscription_groups", "topics")
    values = {kind: tuple(getattr(args, kind)) for kind in kinds}
    values |= {f"exclude_{kind}": tuple(getattr(args, f"exclude_{kind}")) for kind in kinds}
    return Selection(**values)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 on success, 1 for an error at start (with a hint)."""
    args = parser().parse_args(argv)
    try:
        app = load_app(args.target)
        print(info.render(app, selection(args)))  # noqa: T201 - the CLI's output
    except UserCodeError as error:
        sys.stderr.write(error.render())
        sys.stderr.write(f"engine: importing {args.target!r} failed (traceback above)\n")
        return EXIT_START_ERROR
    except (TargetError, ConfigError, RoutingError, PluginError) as error:
        sys.stderr.write(f"engine: {error}\n{_hint(error)}")
        return EXIT_START_ERROR
    return EXIT_OK


def _hint(error: Exception) -> str:
    if isinstance(error, TargetError):
        return "hint: TARGET is module:attribute, a module with an 'app', or path/to/app.py\n"
    if isinstance(error, ConfigError):
        return "hint: fix the App(...) settings listed above\n"
    return ""


if __name__ == "__main__":
    sys.exit(main())
