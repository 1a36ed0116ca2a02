"""Entry point of the ``engine`` command: parses arguments and picks the exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.broker import BrokerError, BrokerMissingError, BrokerUnreachableError
from engine.cli import info
from engine.cli.arguments import ROOT, Parser, at_least, port, seconds, topic_spec
from engine.cli.target import TargetError, UserCodeError, load_app
from engine.errors import AdminError, ConfigError, PluginError, RoutingError
from engine.routing.selection import Selection

if TYPE_CHECKING:
    from engine.app import App

EXIT_OK, EXIT_START_ERROR = 0, 1
ACTIONS = ("plan", "create", "repartition", "align", "migrate", "delete", "lag")
HINTS = {
    TargetError: "hint: TARGET is module:attribute, a module with an 'app', or path/to/app.py",
    ConfigError: "hint: fix the App(...) settings listed above",
    RoutingError: "hint: check the routes (engine info TARGET lists them)",
    PluginError: "hint: plugins are looked up in the 'engine.plugins' entry-point group",
    BrokerUnreachableError: "hint: start a broker (engine broker) or fix bootstrap.servers"
    " in the app's kafka settings",
    BrokerMissingError: 'hint: install the embedded broker with: pip install -e ".[broker]"',
    BrokerError: "hint: another --port avoids a clash; a broker log, when named, says more",
}


def parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    root = Parser(prog=ROOT, description="Run Kafka consumers.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server = commands.add_parser("server", help="run an app until a signal stops it")
    server.add_argument("target", metavar="TARGET", help="module:attribute, module, or file.py")
    server.add_argument("--plugin", dest="plugins", action="append", default=[],
                        metavar="NAME", help="install a plugin by name (repeatable)")
    server.add_argument("--migrate", action="store_true",
                        help="create, repartition and align the declared topics first")
    _filters(server)
    swarm = commands.add_parser("swarm", help="run N supervised copies of an app, one process"
                                " each (past the GIL)")
    swarm.add_argument("target", metavar="TARGET", help="module:attribute, module, or file.py")
    swarm.add_argument("--nodes", type=at_least(1), required=True, metavar="N",
                       help="processes to run (at least 1)")
    swarm.add_argument("--plugin", dest="plugins", action="append", default=[],
                       metavar="NAME", help="install a plugin by name (repeatable)")
    swarm.add_argument("--migrate", action="store_true",
                       help="create, repartition and align the declared topics first (once)")
    _filters(swarm)
    topics = commands.add_parser("topics", help="create, align or delete the declared topics;"
                                 " the consumer groups' lag")
    topics.add_argument("action", choices=ACTIONS, metavar="ACTION", help="|".join(ACTIONS))
    topics.add_argument("target", metavar="TARGET", help="module:attribute, module, or file.py")
    topics.add_argument("--yes", action="store_true", help="delete: really delete the topics")
    topics.add_argument("--timeout", type=seconds, default=30.0, metavar="SECONDS",
                        help="how long each admin request may take (default 30)")
    _filters(topics)
    web = commands.add_parser("web", help="serve the dashboard of the processes that report"
                              " (plugin web) on the app's cluster")
    web.add_argument("target", metavar="TARGET", help="module:attribute, module, or file.py")
    web.add_argument("--port", type=port, default=9396, help="TCP port (default 9396)")
    web.add_argument("--host", default="127.0.0.1",
                     help="address to bind (default 127.0.0.1: this machine only)")
    web.add_argument("--token", default=os.environ.get("ENGINE_WEB_TOKEN"),
                     help="the token commands need (default: ENGINE_WEB_TOKEN; none: read only)")
    web.add_argument("--no-browse", dest="browse", action="store_false",
                     help="never show messages (dead letters, topics explorer)")
    show = commands.add_parser("info", help="routes, subscription groups, settings, lifecycle")
    show.add_argument("target", metavar="TARGET", help="module:attribute, module, or file.py")
    _filters(show)
    broker = commands.add_parser("broker", help="run the embedded Tansu broker")
    broker.add_argument("--port", type=port, default=9092,
                        help="TCP port on 127.0.0.1 (default 9092; 0 picks a free one)")
    broker.add_argument("--topic", dest="topics", action="append", default=[], type=topic_spec,
                        metavar="NAME[:PARTITIONS]", help="create a topic at start (repeatable)")
    demo = commands.add_parser("demo", help="a sample app on the embedded broker, end to end")
    demo.add_argument("--messages", type=at_least(1), default=100_000,
                      help="orders to produce and consume (default 100000)")
    demo.add_argument("--partitions", type=at_least(1), default=6,
                      help="partitions of the demo topic (default 6)")
    demo.add_argument("--concurrency", type=at_least(1), default=2,
                      help="worker threads (default 2)")
    demo.add_argument("--web", dest="web_port", type=port, nargs="?", const=9396, default=None,
                      metavar="PORT", help="serve the dashboard of the run on 127.0.0.1:PORT"
                      " (default 9396), up until Ctrl-C after the run (needs engine[web])")
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
        return _dispatch(args)
    except UserCodeError as error:
        sys.stderr.write(error.render())
        sys.stderr.write(f"engine: importing {args.target!r} failed (traceback above)\n")
    except (TargetError, ConfigError, RoutingError, PluginError, BrokerError) as error:
        sys.stderr.write(f"engine: {error}\n{_hint(error)}\n")
    except AdminError as error:  # each problem line carries its own hint
        sys.stderr.write("".join(f"engine: {line}\n" for line in error.problems))
    return EXIT_START_ERROR


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "broker":
        from engine.cli.broker import run_broker

        return run_broker(args.port, args.topics)
    if args.command == "demo":
        from engine.cli.demo import run_demo

        return run_demo(args.messages, args.partitions, args.concurrency, args.web_port)
    return _run_on(load_app(args.target), args)


def _run_on(app: App, args: argparse.Namespace) -> int:
    """The commands that work on the app named by TARGET."""
    if args.command == "info":
        sys.stdout.write(info.render(app, selection(args)) + "\n")
        return EXIT_OK
    if args.command == "topics":
        from engine.cli.topics import run_topics

        return run_topics(app, args.action, selection(args), args.yes, args.timeout)
    if args.command == "web":
        from engine.cli.web import run_web

        return run_web(app, args.host, args.port, args.token, args.browse)
    if args.command == "swarm":
        from engine.cli.server import swarm

        return swarm(app, args, selection(args))
    from engine.cli.server import serve

    return serve(app, args, selection(args))


def _hint(error: Exception) -> str:
    own = getattr(error, "hint", None)
    if isinstance(own, str):
        return own
    return next((hint for kind, hint in HINTS.items() if isinstance(error, kind)), "")


if __name__ == "__main__":
    sys.exit(main())
