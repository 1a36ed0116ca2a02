"""The sections that look at the cluster and the app: Dead letters, Topics and Routes.

They read through a ``Browser`` (blocking, run on worker threads). Message browsing can be
turned off (``browse_messages=False``): topics and watermarks still show, payloads never.
Re-sending a dead letter to its source topic is a command: it needs the dashboard's token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

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

Resend = Callable[[str, int, int], str]
"""Sends the dead letter at (topic, partition, offset) back to its source; says where."""


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
    import anyio.to_thread

    browser = explorer.browser

    async def topics(request: Request) -> Response:
        found = await anyio.to_thread.run_sync(browser.topics)
        return pages.render(request, "topics", "Topics", topics=found)

    async def topic(request: Request) -> Response:
        name = request.path_params["name"]
        partitions = await anyio.to_thread.run_sync(browser.partitions, name)
        chosen, offset, at, problem = _position(request, partitions)
        messages: list[dict[str, Any]] = []
        if explorer.browse_messages and chosen is not None and problem is None:
            messages = await anyio.to_thread.run_sync(browser.messages, name, chosen, offset,
                                                      at)
        return pages.render(request, "topic", f"Topic {name}", topic=name,
                            partitions=partitions, messages=messages, chosen=chosen,
                            problem=problem, browse=explorer.browse_messages)

    async def dead_letters(request: Request) -> Response:
        shown = []
        for name in explorer.dead_letter_topics:
            partitions = await anyio.to_thread.run_sync(browser.partitions, name)
            messages: list[dict[str, Any]] = []
            if explorer.browse_messages:
                for row in partitions:
                    messages += await anyio.to_thread.run_sync(browser.messages, name,
                                                               row["partition"])
            shown.append({"topic": name, "partitions": partitions, "messages": [
                {**message, "source": {key[len("source_"):]: value
                                       for key, value in message["headers"]
                                       if key.startswith("source_")}}
                for message in messages]})
        return pages.render(request, "dead_letters", "Dead letters", dead_letters=shown,
                            browse=explorer.browse_messages,
                            resend=explorer.resend is not None)

    async def resend(request: Request) -> Response:
        refusal = await guard.refusal(request)
        if refusal is not None or explorer.resend is None:
            return refusal or PlainTextResponse("read only", status_code=403)
        name = request.path_params["name"]
        if name not in explorer.dead_letter_topics:
            return PlainTextResponse(f"{name!r} is no dead-letter topic of this app",
                                     status_code=404)
        said = await anyio.to_thread.run_sync(explorer.resend, name,
                                              request.path_params["partition"],
                                              request.path_params["offset"])
        return PlainTextResponse(said, status_code=202)

    async def routes(request: Request) -> Response:
        return pages.render(request, "routes", "Routes", routes=explorer.routes,
                            declared=explorer.declared)

    return [
        Route("/topics", topics), Route("/topics/{name}", topic),
        Route("/dead-letters", dead_letters),
        Route("/dead-letters/{name}/{partition:int}/{offset:int}/resend", resend,
              methods=["POST"]),
        Route("/routes", routes),
    ]


def _position(request: Request, partitions: list[dict[str, Any]]
              ) -> tuple[int | None, int | None, datetime | None, str | None]:
    """The partition, offset and time asked for in the query; a problem to show, if any."""
    query = request.query_params
    numbers = [row["partition"] for row in partitions]
    try:
        chosen = int(query.get("partition", numbers[0] if numbers else -1))
        offset = int(query["offset"]) if query.get("offset") else None
        at = datetime.fromisoformat(query["time"]) if query.get("time") else None
    except ValueError as error:
        return None, None, None, f"cannot read the query: {error}"
    if chosen not in numbers:
        return None, None, None, None if not numbers else f"no partition {chosen}"
    return chosen, offset, at, None
