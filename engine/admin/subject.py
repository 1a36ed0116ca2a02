"""What the admin functions read of an app: its settings, its routes and its declared topics.

A protocol rather than ``App`` itself, so that the admin layer does not depend on the app (and,
through it, on the server, the swarm and the plugins): any object with these three members will
do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.routing.declared_topics import DeclaredTopic
    from engine.routing.routes import Routes
    from engine.routing.selection import Selection


class AdminSubject(Protocol):
    """The app whose topics and consumer groups the admin functions manage."""

    settings: Settings
    routes: Routes

    def declared_topics(self, selection: Selection | None = None) -> tuple[DeclaredTopic, ...]:
        """The topics to manage, after filters."""
