"""``engine topics ACTION TARGET``: the app's declared topics against the cluster, and lag."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from engine import admin
from engine.admin.changes import Change
from engine.app import App
from engine.errors import AdminError
from engine.routing.selection import Selection

EXIT_OK, EXIT_PROBLEMS = 0, 1
_NEVER_REMOVED = "partitions are only ever added, never removed"


def run_topics(app: App, action: str, selection: Selection, yes: bool, timeout: float) -> int:
    """Carry out ``action``, print what it did (or would do); 0 done, 1 with problems."""
    if action == "lag":
        return _lag(app, selection, timeout)
    if not app.declared_topics(selection):
        _say("nothing to do: no declared topics (declare them with app.topic(...,"
             " config={...}) or app.declare_topic(name, config={...}))")
        return EXIT_OK
    try:
        if action == "plan":
            plan = admin.plan(app, selection, timeout=timeout)
            _say(*plan.lines())
            if not plan.nothing_to_do:
                _say(f"{len(plan.changes)} change(s), none made (engine topics migrate TARGET"
                     " makes them)")
            return EXIT_OK
        if action == "delete":
            return _delete(app, selection, yes, timeout)
        done = _OPERATIONS[action](app, selection, timeout=timeout)
    except AdminError as error:
        if error.done:  # "nothing to do" would be untrue: the problem stopped it
            _report(error.done)
        _problems(error)
        return EXIT_PROBLEMS
    _report(done)
    if action == "repartition":
        _say(f"({_NEVER_REMOVED})")
    return EXIT_OK


def _delete(app: App, selection: Selection, yes: bool, timeout: float) -> int:
    if not yes:
        names = admin.existing(app, selection, timeout=timeout)
        if not names:
            _say("nothing to do: no declared topic exists on the cluster")
            return EXIT_OK
        _say(*[f"{name}: would delete (with every message in it)" for name in names])
        sys.stderr.write("engine: nothing deleted (hint: pass --yes to delete these topics)\n")
        return EXIT_PROBLEMS
    _report(admin.delete(app, selection, timeout=timeout))
    return EXIT_OK


def _lag(app: App, selection: Selection, timeout: float) -> int:
    try:
        found = admin.lag(app, selection, timeout=timeout)
    except AdminError as error:
        _problems(error)
        return EXIT_PROBLEMS
    _say(*[f"{row.consumer_group} {row.topic}/{row.partition}: committed"
           f" {'none' if row.committed is None else row.committed}, end {row.high_watermark},"
           f" lag {row.lag}" for row in found] or ["nothing to do: no routed topics"])
    return EXIT_OK


def _problems(error: AdminError) -> None:
    sys.stderr.write("".join(f"engine: {line}\n" for line in error.problems))


def _report(done: Sequence[Change]) -> None:
    _say(*[f"done: {change}" for change in done] or ["nothing to do"])


def _say(*lines: str) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))


_OPERATIONS = {
    "create": admin.create, "repartition": admin.repartition, "align": admin.align,
    "migrate": admin.migrate,
}
