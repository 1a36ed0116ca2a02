"""The sections that look at the cluster and the app: Dead letters, Topics and Routes.

They read through a ``Browser`` (blocking, run on worker threads). Message browsing can be
turned off (``browse_messages=False``): topics and watermarks still show, payloads never.
Re-sending a dead letter to its source topic is a command: it needs the dashboard's token.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from engine.errors import RoutingError
from engine.web.browse import Browser

if TYPE_CHECKING:
    from engine.app import App
    from engine.web.dashboard import Guard, Pages

EXPLORER_SECTIONS = (("/dead-letters", "Dead letters"), ("/topics", "Topics"),
                     ("/routes", "Routes"))
"""The explorer's sections: path and the visible text of its link."""

Resend = Callable[[str, int, int, Collection[str]], str]
"""Sends the dead letter at (topic, partition, offset) back to its source, one of the topics
given; says where, or raises ``LookupError`` saying why not."""


@dataclass(frozen=True)
class Explorer:
    """What the explorer shows: the app's routes and declared topics, and the cluster."""

    browser: Browser
    routes: list[dict[str, Any]] = field(default_factory=list)
    declared: list[dict[str, Any]] = field(default_factory=list)
    dead_letter_topics: tuple[str, ...] = ()
    browse_messages: bool = True
    resend: Resend | None = None


def explorer_of(app: App, browser: Browser, *, browse_messages: bool = True,
                resend: Resend | None = None) -> Explorer:
    """The explorer of ``app``'s routes (all of them, active or not) and declared topics."""
    try:
        groups = app.subscription_groups()
    except RoutingError:  # an app with nothing to run still has a cluster to look at
        groups = ()
    routes = [{"consumer_group": group.consumer_group, "subscription_group": group.name,
               "topic": topic.name, "consumer": topic.consumer_class.__qualname__,
               "dead_letter_queue": topic.dead_letter_queue.topic
               if topic.dead_letter_queue is not None else "",
               "long_running_job": topic.long_running_job}
              for group in groups for topic in group.topics]
    try:
        declared = [{"name": topic.name, "config": topic.config.describe(),
                     "origin": topic.origin} for topic in app.declared_topics()]
    except RoutingError:
        declared = []
    dead = tuple(dict.fromkeys(str(row["dead_letter_queue"]) for row in routes
                               if row["dead_letter_queue"]))
    return Explorer(browser, routes, declared, dead, browse_messages, resend)


def explore_routes(explorer: Explorer, pages: Pages, guard: Guard) -> list[BaseRoute]:
    """The explorer's pages and its one command (re-send a dead letter)."""
    sections = ExplorerPages(explorer, pages, guard)
    return [
        Route("/topics", sections.topics), Route("/topics/{name}", sections.topic),
        Route("/dead-letters", sections.dead_letters),
        Route("/dead-letters/{name}/{partition:int}/{offset:int}/resend", sections.resend,
              methods=["POST"]),
        Route("/routes", sections.routes),
    ]


class ExplorerPages:
    """The endpoints of the explorer's sections; blocking reads go to worker threads."""

    def __init__(self, explorer: Explorer, pages: Pages, guard: Guard) -> None:
        self._explorer = explorer
        self._browser = explorer.browser
        self._pages = pages
        self._guard = guard

    async def topics(self, request: Request) -> Response:
        """Every topic of the cluster."""
        found = await to_thread.run_sync(self._browser.topics)
        return self._pages.render(request, "topics", "Topics", slow=True, topics=found)

    async def topic(self, request: Request) -> Response:
        """One topic: its partitions and watermarks, and messages where the query says."""
        name = request.path_params["name"]
        partitions = await to_thread.run_sync(self._browser.partitions, name)
        chosen, offset, at, problem = _position(request, partitions)
        messages: list[dict[str, Any]] = []
        if self._explorer.browse_messages and chosen is not None and problem is None:
            messages = await to_thread.run_sync(self._browser.messages, name, chosen, offset,
                                                at)
        return self._pages.render(request, "topic", f"Topic {name}", slow=True, topic=name,
                                  partitions=partitions, messages=messages, chosen=chosen,
                                  problem=problem, browse=self._explorer.browse_messages)

    async def dead_letters(self, request: Request) -> Response:
        """Each dead-letter topic of the app: partitions and latest messages with sources."""
        shown = [await self._dead_letters_of(name)
                 for name in self._explorer.dead_letter_topics]
        return self._pages.render(request, "dead_letters", "Dead letters", slow=True,
                                  dead_letters=shown,
                                  browse=self._explorer.browse_messages,
                                  resend=self._explorer.resend is not None)

    async def _dead_letters_of(self, name: str) -> dict[str, Any]:
        partitions = await to_thread.run_sync(self._browser.partitions, name)
        messages: list[dict[str, Any]] = []
        if self._explorer.browse_messages:
            for row in partitions:
                messages += await to_thread.run_sync(self._browser.messages, name,
                                                     row["partition"])
        return {"topic": name, "partitions": partitions, "messages": messages}

    async def resend(self, request: Request) -> Response:
        """POST: send one dead letter back to its source topic (the token needed)."""
        refusal = await self._guard.refusal(request)
        resend = self._explorer.resend
        if refusal is not None or resend is None:
            return refusal or PlainTextResponse("read only", status_code=403)
        name = request.path_params["name"]
        if name not in self._explorer.dead_letter_topics:
            return PlainTextResponse(f"{name!r} is no dead-letter topic of this app",
                                     status_code=404)
        sources = {str(row["topic"]) for row in self._explorer.routes
                   if row["dead_letter_queue"] == name}
        try:
            said = await to_thread.run_sync(resend, name, request.path_params["partition"],
                                            request.path_params["offset"], sources)
        except LookupError as refused:
            return PlainTextResponse(str(refused), status_code=409)
        return PlainTextResponse(said, status_code=202)

    async def routes(self, request: Request) -> Response:
        """The app's routes and declared topics."""
        return self._pages.render(request, "routes", "Routes", routes=self._explorer.routes,
                                  declared=self._explorer.declared)


def _position(request: Request, partitions: list[dict[str, Any]]
              ) -> tuple[int | None, int | None, datetime | None, str | None]:
    """The partition, offset and time asked for in the query; a problem to show, if any."""
    query = request.query_params
    numbers = [row["partition"] for row in partitions]
    try:
        chosen = int(query.get("partition", numbers[0] if numbers else -1))
        offset = int(query["offset"]) if query.get("offset") else None
        at = _utc(query["time"]) if query.get("time") else None
    except ValueError as error:
        return None, None, None, f"cannot read the query: {error}"
    if chosen not in numbers:
        return None, None, None, None if not numbers else f"no partition {chosen}"
    return chosen, offset, at, None


def _utc(text: str) -> datetime:
    """An ISO time from the query; without an offset it is UTC, as every time the pages show.

    A trailing ``Z`` is read as ``+00:00`` (Python 3.10's ``fromisoformat`` refuses it).
    """
    text = text.strip()
    at = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
