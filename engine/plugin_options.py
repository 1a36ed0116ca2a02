"""Plugin options: constructor keywords or ``ENGINE_<PLUGIN>_<OPTION>`` variables, validated."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import PluginError
from engine.plugin import installed

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One plugin option: its name, type, default and the rule its value must follow.

    ``check`` returns None for a good value, else the rule broken (``"an integer 1..65535"``).
    Values from the environment are text, converted to ``kind`` first.
    """

    name: str
    kind: type
    default: Any
    check: Callable[[Any], str | None] | None = None
    help: str = ""


def port(value: Any) -> str | None:
    """A TCP port (0 picks a free one)."""
    return None if 0 <= value <= 65535 else "a port 0..65535"


def positive(value: Any) -> str | None:
    """A number above zero."""
    return None if value > 0 else "a number > 0"


def resolve(plugin: str, options: Sequence[Option], given: Mapping[str, Any],
            environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every option's value: given, else from the environment (if ``environ``), else default.

    Raises one ``PluginError`` listing every unknown or bad option.
    """
    values, problems = _resolved(plugin, options, given, environ)
    if problems:
        raise PluginError("; ".join(problems), OPTIONS_HINT)
    return values


def _resolved(plugin: str, options: Sequence[Option], given: Mapping[str, Any],
              environ: Mapping[str, str] | None) -> tuple[dict[str, Any], list[str]]:
    """Every option's value, and every problem found on the way."""
    known = {option.name: option for option in options}
    problems = [f"{plugin}: unknown option {name!r} (options: {', '.join(known) or 'none'})"
                for name in given if name not in known]
    values: dict[str, Any] = {}
    for option in options:
        source, value = _raw(plugin, option, given, environ)
        converted, problem = _convert(option, value) if source != "default" else (value, None)
        if problem is None and option.check is not None and converted is not None:
            problem = option.check(converted)
        if problem is not None:
            problems.append(f"{plugin}: {option.name} must be {problem} (got {value!r}"
                            f"{'' if source == 'keyword' else ' from ' + source})")
        values[option.name] = converted
    return values, problems


def env_name(plugin: str, option: str) -> str:
    """``ENGINE_<PLUGIN>_<OPTION>``: upper case, dashes and dots as underscores."""
    return "_".join(("ENGINE", plugin, option)).upper().replace("-", "_").replace(".", "_")


def from_environment(plugin: str, options: Sequence[Option],
                     environ: Mapping[str, str] | None = None,
                     others: Iterable[str] | None = None) -> dict[str, Any]:
    """The options set in the environment, converted and checked.

    A variable ``ENGINE_<PLUGIN>_*`` that names no option is a problem too (a misspelt
    ``ENGINE_PROMETHEUS_PROT`` would otherwise leave the default in place unnoticed), unless
    its name may belong to one of ``others`` (default: every installed plugin's name), as
    ``ENGINE_OPENTELEMETRY_...`` may when ``plugin`` is ``open``. One ``PluginError`` lists
    every problem.
    """
    environ = os.environ if environ is None else environ
    others = installed() if others is None else others
    values, problems = _resolved(plugin, options, {}, environ)
    problems += unknown_variables(plugin, options, environ, others)
    if problems:
        raise PluginError("; ".join(problems), OPTIONS_HINT)
    return {option.name: values[option.name] for option in options
            if env_name(plugin, option.name) in environ}


def unknown_variables(plugin: str, options: Sequence[Option], environ: Iterable[str],
                      others: Iterable[str]) -> list[str]:
    """One problem per ``ENGINE_<PLUGIN>_*`` variable that names none of ``options``.

    A variable that starts with another plugin's longer prefix may be that plugin's: it is
    left alone.
    """
    prefix = env_name(plugin, "")
    theirs = [env_name(other, "") for other in others]
    theirs = [other for other in theirs if len(other) > len(prefix) and other.startswith(prefix)]
    known = [env_name(plugin, option.name) for option in options]
    problems = []
    for variable in sorted(environ):
        if (not variable.startswith(prefix) or variable in known
                or any(variable.startswith(other) for other in theirs)):
            continue
        # compared without the shared prefix, which would make every name look close
        close = difflib.get_close_matches(variable[len(prefix):],
                                          [name[len(prefix):] for name in known], n=1)
        hint = (f"did you mean {prefix}{close[0]}?" if close
                else f"its variables: {', '.join(known) or 'none'}")
        problems.append(f"{plugin}: {variable} names no option ({hint})")
    return problems


class Configurable:
    """A plugin whose options are ``OPTIONS``: keywords, or the environment when loaded by name.

    ``self.options`` holds every option's value after ``configure(given)``.
    """

    name: str
    OPTIONS: tuple[Option, ...] = ()

    @classmethod
    def from_environment(cls) -> Any:
        """An instance configured from ``ENGINE_<NAME>_<OPTION>`` variables."""
        return cls(**from_environment(cls.name, cls.OPTIONS))

    def configure(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``given`` (one ``PluginError`` listing every problem); every option's value."""
        self.options = resolve(self.name, self.OPTIONS, given)
        return self.options


def needs(plugin: str, module: str, extra: str) -> Any:
    """Import ``module`` for a plugin, or raise a ``PluginError`` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise PluginError(f"plugin {plugin!r} needs {module}: pip install 'engine[{extra}]'"
                          ) from error


def _raw(plugin: str, option: Option, given: Mapping[str, Any],
         environ: Mapping[str, str] | None) -> tuple[str, Any]:
    if option.name in given:
        return "keyword", given[option.name]
    variable = env_name(plugin, option.name)
    if environ is not None and variable in environ:
        return variable, environ[variable]
    return "default", option.default


OPTIONS_HINT = ("hint: options come as keywords or ENGINE_<PLUGIN>_<OPTION> variables; the"
                " plugin's docstring (docs/guides/plugins.md) lists them")
_EXPECTED = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


def _convert(option: Option, value: Any) -> tuple[Any, str | None]:
    """``value`` as ``option.kind`` (text from the environment parsed), or the rule broken."""
    kind = option.kind
    wanted = _EXPECTED.get(kind, kind.__name__)
    if value is None and option.default is None:
        return None, None
    if isinstance(value, str) and kind is not str:
        return _parse(value.strip().lower(), kind, wanted)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value), None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return None, wanted
    return value, None


def _parse(text: str, kind: type, wanted: str) -> tuple[Any, str | None]:
    if kind is bool:
        if text in _TRUE or text in _FALSE:
            return text in _TRUE, None
        return None, wanted
    try:
        return kind(text), None
    except ValueError:
        return None, wanted
