"""Plugins: the protocol they follow and their discovery through entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from engine.errors import PluginError

if TYPE_CHECKING:
    from engine.app import App

ENTRY_POINT_GROUP = "engine.plugins"


@runtime_checkable
class Plugin(Protocol):
    """Anything with a ``name`` and an ``install(app)`` that subscribes what it needs.

    A plugin may also have a ``start(app)`` method (not part of the protocol's check): the
    app calls it when it starts (``app.start()``, ``app.run()``, each swarm node), after the
    routes are validated and before any listener; whatever it raises fails the start with a
    ``PluginError`` naming the plugin. A plugin binds its server there, so a port already
    taken stops the app instead of going unnoticed; it closes it on ``app.stopped``, which a
    failed start also announces.
    """

    name: str

    def install(self, app: App) -> None:
        """Subscribe to the app's monitor (and keep whatever state the plugin needs)."""


def installed() -> dict[str, EntryPoint]:
    """Plugins installed in this environment, by entry-point name."""
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def load(name: str) -> Plugin:
    """Load a plugin by entry-point name; a class is instantiated with no arguments."""
    points = installed()
    point = points.get(name)
    if point is None:
        choices = ", ".join(sorted(points)) or "none"
        raise PluginError(
            f"unknown plugin {name!r} (installed plugins: {choices}); a plugin package"
            f" registers itself under the {ENTRY_POINT_GROUP!r} entry-point group"
        )
    try:
        target: Any = point.load()
        plugin = _instantiate(target) if isinstance(target, type) else target
    except PluginError:
        raise
    except Exception as error:
        raise PluginError(f"plugin {name!r} ({point.value}) failed to load: {error!r}") from error
    return checked(plugin)


def _instantiate(target: type) -> Any:
    """A plugin class's instance, built with no arguments.

    A class with a ``from_environment()`` class method reads ``ENGINE_<PLUGIN>_<OPTION>``.
    """
    build = getattr(target, "from_environment", None)
    return build() if callable(build) else target()


def checked(plugin: object) -> Plugin:
    """Return ``plugin`` if it follows the protocol, else raise a ``PluginError`` saying why."""
    name = getattr(plugin, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise PluginError(f"{plugin!r} is not a plugin: it needs a non-empty string 'name'")
    if not callable(getattr(plugin, "install", None)):
        raise PluginError(f"plugin {name!r} is broken: it has no callable install(app)")
    return cast(Plugin, plugin)
