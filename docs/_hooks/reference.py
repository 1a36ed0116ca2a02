"""mkdocs hook: the reference tables rendered from the code, so the pages cannot drift from it.

A page asks for a table with a placeholder on a line of its own, ``[[engine:NAME]]``; NAME is
one of ``RENDERERS``. An unknown name, or a registry entry the notes below do not describe,
fails the build. Links from a page to a source file of the repository (``../engine/app.py``)
are checked to exist and point at ``repo_url`` when the site has one (else they become the
path as code), since mkdocs can only link to files inside ``docs/``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import itertools
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"^\[\[engine:([a-z-]+)\]\]$", re.MULTILINE)

# What the registry cannot say: a line of context per error type, and extras per event.
ERROR_TYPE_NOTES: dict[str, str] = {
    "runner.call.error": "the runner itself failed; the app stops",
    "app.stopping.error": "a graceful stop outlasted `shutdown_timeout`; adds `in_processing`,"
    " `active_listeners`, `alive_workers`, and `cancelled` (the async consumers' jobs it"
    " cancelled) when there were any",
    "connection.listener.fetch_loop.error": "a listener's loop failed; it resets and continues",
    "connection.client.poll.error": "librdkafka reported an error while polling",
    "connection.client.commit.error": "a commit was refused: a synchronous one when it raises,"
    " an asynchronous or automatic one through librdkafka's commit callback; adds `sync` and,"
    " where librdkafka names them, `partitions` (`(topic, partition)` pairs)",
    "librdkafka.error": "librdkafka's error callback",
    "callbacks.rebalance.error": "our code inside a rebalance callback raised",
    "callbacks.statistics.error": "our code inside the statistics callback raised",
    "consumer.consume.error": "the user's `consume` raised; adds `offset` (where the retry"
    " restarts)",
    "consumer.initialized.error": "the user's `initialized` hook raised",
    "consumer.revoked.error": "the user's `revoked` hook raised",
    "consumer.shutdown.error": "the user's `shutdown` hook raised",
    "consumer.wrap.error": "the user's `wrap` hook raised",
    "consumer.eofed.error": "the user's `eofed` hook raised",
    "consumer.loop.blocked": "a step of an async consumer's hook held the event loop longer than"
    " `loop_stall_threshold` (a blocking call inside `async def`); adds `action` and `stalled`"
    " (seconds); `error` is an `engine.errors.LoopBlockedError`",
    "consumer.deserialize.error": "a payload or key could not be deserialized",
    "producer.delivery.error": "an asynchronous `produce` was not delivered",
    "dead_letter_queue.dispatch.error": "producing to the dead-letter topic failed",
    "transaction.error": "a transactional producer broke (fenced, a fatal error, or a call past"
    " its time bound): it is dropped and rebuilt, the batch fails and is retried; a fenced one's"
    " partition is treated as lost until the batch's retry; adds `topic`, `partition`;"
    " `error` is an `engine.errors.TransactionError`",
    "worker.process.error": "an engine failure around a job (never a user error)",
    "monitor.subscriber.error": "a receiver raised (not reported for `error.occurred`"
    " receivers)",
    "swarm.node.error": "a swarm node exited unexpectedly, stopped reporting or reported a stuck"
    " listener; sent on the supervisor's own monitor (see [Swarm](../guides/swarm.md)); adds"
    " `node` and `pid`",
}

EVENT_NOTES: dict[str, str] = {
    "connection.listener.unassigned": "`waited`: seconds without partitions; fired past"
    " `assignment_timeout`, then every `assignment_timeout` until partitions arrive (beyond the"
    " design catalogue)",
    "consumer.consume": "and `virtual_partition` on a topic with virtual partitions",
    "consumer.consumed": "and `virtual_partition` on a topic with virtual partitions",
    "dead_letter_queue.dispatched": "`error`: what the last attempt raised",
}


def _table(header: tuple[str, ...], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _rst_to_markdown(text: str) -> str:
    return " ".join(text.replace("``", "`").split())


def field_docstrings(cls: type) -> dict[str, str]:
    """Each dataclass field's attribute docstring (the string right below it), from the source."""
    path = Path(__import__(cls.__module__, fromlist=["_"]).__file__ or "")
    tree = ast.parse(path.read_text())
    body = next(node for node in ast.walk(tree)
                if isinstance(node, ast.ClassDef) and node.name == cls.__name__).body
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = after.value.value
    return docs


def settings() -> str:
    """The app settings: name, default and rule, from ``engine.config.settings.Settings``."""
    from engine.config.settings import Settings

    docs = field_docstrings(Settings)
    rows = []
    for field in dataclasses.fields(Settings):
        if field.name not in docs:
            raise ValueError(f"Settings.{field.name} has no docstring for the settings table")
        if field.default is dataclasses.MISSING:
            default = "—"
        else:
            default = f"`{field.default!r}`" if field.default != () else "`[]`"
        rows.append((f"`{field.name}`", default, _rst_to_markdown(docs[field.name])))
    return _table(("setting", "default", "rule"), rows)


def injected_defaults() -> str:
    """librdkafka defaults the engine injects, with why, from ``engine.config.kafka``."""
    from engine.config.kafka import INJECTED_DEFAULTS

    rows = [(f"`{key}`", str(value), why) for key, (value, why) in INJECTED_DEFAULTS.items()]
    return _table(("injected default", "value", "why"), rows)


def owned_settings() -> str:
    """librdkafka settings the engine forces or refuses, from ``engine.config.kafka``."""
    from engine.config.kafka import FORCED, OWNED

    rows = [(f"`{key}`", f"forced to `{str(value).lower()}`") for key, value in FORCED.items()]
    rows += [(f"`{key}`", f"refused: {why}") for key, why in OWNED.items()]
    return _table(("librdkafka setting", "what the engine does"), rows)


def events() -> str:
    """Every event: name, sender, payload, from ``engine.instrumentation.events``."""
    from engine.instrumentation.events import BEYOND_DESIGN_EVENTS, EVENT_NAMES, EVENTS

    _known(EVENT_NOTES, EVENT_NAMES, "EVENT_NOTES")
    rows = []
    for spec in (*EVENTS, *BEYOND_DESIGN_EVENTS):
        note = EVENT_NOTES.get(spec.name)
        payload = f"{spec.payload} ({note})" if note else spec.payload
        rows.append((f"`{spec.name}`", spec.sender, payload))
    return _table(("event", "sender", "payload"), rows)


def error_types() -> str:
    """Every ``type`` of ``error.occurred``, from ``engine.instrumentation.events``."""
    from engine.instrumentation.events import ERROR_TYPES

    _known(ERROR_TYPE_NOTES, ERROR_TYPES, "ERROR_TYPE_NOTES")
    missing = [kind for kind in ERROR_TYPES if kind not in ERROR_TYPE_NOTES]
    if missing:
        raise ValueError(f"error types without a line in ERROR_TYPE_NOTES: {missing}")
    return _table(("type", "raised where"),
                  [(f"`{kind}`", ERROR_TYPE_NOTES[kind]) for kind in ERROR_TYPES])


def _known(notes: dict[str, str], names: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(notes) - set(names))
    if unknown:
        raise ValueError(f"{where} describes names the registry lacks: {unknown}")


def errors() -> str:
    """Every exception class of ``engine.errors``, with the first line of its docstring."""
    import engine.errors

    rows = []
    for name, value in vars(engine.errors).items():
        if isinstance(value, type) and issubclass(value, Exception) \
                and value.__module__ == "engine.errors":
            base = value.__bases__[0].__name__
            summary = (value.__doc__ or "").strip().splitlines()[0] if value.__doc__ else ""
            rows.append((f"`{name}`", f"`{base}`", _rst_to_markdown(summary)))
    return _table(("exception", "subclass of", "what"), rows)


def cli() -> str:
    """``engine --help`` and every sub-command's help, from the argparse parser itself."""
    from engine.cli.main import parser

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; the page must not vary
    try:
        root = parser()
        sections = [f"```text\n{root.format_help().rstrip()}\n```"]
        for action in root._subparsers._group_actions if root._subparsers else []:
            if isinstance(action, argparse._SubParsersAction):
                sections += [f"### `engine {name}`\n\n```text\n{command.format_help().rstrip()}"
                             "\n```" for name, command in action.choices.items()]
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n\n".join(sections)


def plugin_options() -> str:
    """Each first-party plugin's options, from its ``OPTIONS`` (``engine.plugin_options``)."""
    from importlib.metadata import entry_points

    from engine.plugin_options import env_name

    rows = []
    for point in sorted(entry_points(group="engine.plugins"), key=lambda point: point.name):
        if not point.value.startswith("engine_plugins."):
            continue  # another distribution's plugin, installed beside the engine
        for option in getattr(point.load(), "OPTIONS", ()):
            rows.append((f"`{point.name}`", f"`{option.name}`",
                         f"`{env_name(point.name, option.name)}`", f"`{option.default!r}`",
                         _rst_to_markdown(option.help)))
    if not rows:
        raise ValueError("no first-party plugin found: is the engine installed (pip install -e .)?")
    return _table(("plugin", "option", "variable", "default", "what"), rows)


def lifecycle_diagram() -> str:
    """The app lifecycle's state diagram, drawn by ``transitions`` from the machine itself."""
    from engine.lifecycle.lifecycle import Lifecycle

    return f"```mermaid\n{Lifecycle.diagram()}\n```"


RENDERERS: dict[str, Callable[[], str]] = {
    "settings": settings,
    "injected-defaults": injected_defaults,
    "owned-settings": owned_settings,
    "events": events,
    "error-types": error_types,
    "errors": errors,
    "cli": cli,
    "lifecycle-diagram": lifecycle_diagram,
    "plugin-options": plugin_options,
}


def render(markdown: str) -> str:
    """``markdown`` with every ``[[engine:NAME]]`` line replaced by its rendered table."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in RENDERERS:
            raise ValueError(f"unknown placeholder [[engine:{name}]]; known: {sorted(RENDERERS)}")
        return RENDERERS[name]()
    return PLACEHOLDER.sub(one, markdown)


SOURCE_LINK = re.compile(r"\[([^\]]*)\]\((\.\./[^)#\s]+)(#[^)]*)?\)")


def source_links(markdown: str, page_path: str, repo_url: str | None) -> str:
    """Links to repository files outside ``docs/``: checked, then pointed at the repository."""
    folder = (ROOT / "docs" / page_path).parent

    def one(match: re.Match[str]) -> str:
        target = (folder / match.group(2)).resolve()
        try:
            relative = target.relative_to(ROOT)
        except ValueError:
            return match.group(0)
        if relative.parts[0] == "docs":
            return match.group(0)
        if not target.exists():
            raise ValueError(f"{page_path} links to {relative}, which does not exist")
        if repo_url:
            return f"[{match.group(1)}]({repo_url.rstrip('/')}/blob/main/{relative.as_posix()})"
        return match.group(1)  # no repository to point at: the path, as the link showed it
    return SOURCE_LINK.sub(one, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs event: render the placeholders and resolve the source links of one page."""
    markdown = render(markdown)
    return source_links(markdown, page.file.src_uri, config.get("repo_url"))
