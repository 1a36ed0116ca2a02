"""The dashboard's ASGI app (Starlette, Jinja2 with autoescape): pages over a ``State``.

Each page is a full HTML document; asked with the header ``X-Live: 1`` (``static/live.js``
polls so) it answers only the page's ``<main>`` content, which the script swaps in place: the
page updates without a reload and without any third-party script.
"""

from __future__ import annotations

import contextlib
import hmac
import urllib.parse
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from engine.web.codec import PARTITION_COMMANDS, PROCESS_COMMANDS
from engine.web.explore import EXPLORER_SECTIONS, Explorer, explore_routes
from engine.web.state import State

HERE = Path(__file__).parent

SECTIONS = (("/", "Overview"), ("/processes", "Processes"), ("/groups", "Consumer groups"),
            ("/jobs", "Jobs"), ("/errors", "Errors"))
"""The navigation: every section's path and the visible text of its link."""


def templates() -> Jinja2Templates:
    """The page templates: every value escaped; a field a report lacks shows empty."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                     autoescape=True, undefined=jinja2.ChainableUndefined)
    environment.filters["number"] = number
    environment.filters["short"] = short
    environment.filters["size"] = size
    environment.filters["clock"] = clock
    environment.filters["segment"] = segment
    return Jinja2Templates(env=environment)


def segment(value: Any) -> str:
    """``value`` quoted as one URL path segment, its ``/`` too.

    Jinja's ``urlencode`` leaves ``/``: an id with ``/..`` in it would reach another path.
    """
    return urllib.parse.quote(str(value), safe="")


def number(value: Any) -> str:
    """A count as a plain number (``1234``); empty for unknown."""
    return "" if value is None else str(value)


def short(value: Any) -> str:
    """A short form shown beside a big count (``12.3k``); empty when it adds nothing."""
    if not isinstance(value, (int, float)) or abs(value) < 10_000:
        return ""
    for unit, size_ in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size_:
            return f"{value / size_:.1f}{unit}"
    return ""


def clock(value: Any) -> str:
    """Seconds since the epoch as a UTC date and time; empty for unknown."""
    if not isinstance(value, (int, float)):
        return ""
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):  # a time no calendar holds (NaN, 1e300)
        return ""


def size(value: Any) -> str:
    """Bytes in MiB, one decimal."""
    return "" if not isinstance(value, (int, float)) else f"{value / 2**20:.1f} MiB"


SLOW_REFRESH = 10.0
"""Seconds between two refreshes of a page that reads from the brokers (the explorer's)."""

ERRORS_SHOWN = 50
"""Errors on the Errors page, the newest (each may carry a long traceback)."""

Send = Callable[..., None]
"""Sends one command: ``(process id, action)``, and a partition command's ``target``
(``{"topic": ..., "partition": ...}``)."""


class Pages:
    """Renders a section: the whole page, or only its ``<main>`` for a live request."""

    def __init__(self, refresh: float, commands: bool, sections: Sequence[tuple[str, str]]
                 ) -> None:
        self._templates = templates()
        self._common = {"refresh": refresh, "commands": commands, "sections": sections}

    def render(self, request: Request, part: str, title: str, *, slow: bool = False,
               **data: Any) -> Response:
        """The page of ``part`` (template ``parts/<part>.html``) with ``data``.

        A ``slow`` page (one that asks the brokers) refreshes at most every ``SLOW_REFRESH``
        seconds.
        """
        context = {**self._common, "part": part, "title": title, "path": request.url.path,
                   **data}
        if slow:
            context["refresh"] = max(float(context["refresh"]), SLOW_REFRESH)
        name = f"parts/{part}.html" if request.headers.get("x-live") else "page.html"
        return self._templates.TemplateResponse(request, name, context)


def dashboard(state: State, *, lifespan: Callable[[Starlette], Any] | None = None,
              refresh: float = 2.0, token: str | None = None, send: Send | None = None,
              explorer: Explorer | None = None) -> Starlette:
    """The ASGI app over ``state`` (the feed that fills it is the caller's).

    With a ``token`` and a ``send``, processes get Quiet and Stop buttons and partitions
    Pause and Resume ones; a command is a POST
    that carries the token (header ``X-Engine-Token``, ``Authorization: Bearer``, or a form
    field ``token``). Without a token the dashboard is read only. An ``explorer`` adds the
    Dead letters, Topics and Routes sections.
    """
    commands = token is not None and send is not None
    sections = SECTIONS + (EXPLORER_SECTIONS if explorer is not None else ())
    pages = Pages(refresh, commands, sections)

    def page(part: str, title: str, data: Callable[[], dict[str, Any]]) -> Callable[..., Any]:
        async def render(request: Request) -> Response:
            return pages.render(request, part, title, **data())
        return render

    routes: list[BaseRoute] = [
        Route("/", page("overview", "Overview", lambda: {"overview": state.overview(),
                                                         "charts": state.charts()})),
        Route("/processes", page("processes", "Processes",
                                 lambda: {"processes": state.processes()})),
        Route("/groups", page("groups", "Consumer groups", lambda: {"groups": state.groups()})),
        Route("/jobs", page("jobs", "Jobs", lambda: {"jobs": state.jobs()})),
        Route("/errors", page("errors", "Errors", lambda: errors(state))),
        Route("/processes/{process_id}/{action}", command_endpoint(state, token, send),
              methods=["POST"]),
        Route("/processes/{process_id}/partitions/{topic}/{partition:int}/{action}",
              command_endpoint(state, token, send, partition=True), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    if explorer is not None:
        routes[-1:-1] = explore_routes(explorer, pages, Guard(token))
    return Starlette(routes=routes, lifespan=lifespan)


def errors(state: State) -> dict[str, Any]:
    """The newest ``ERRORS_SHOWN`` errors, and how many more the dashboard keeps."""
    kept = state.errors()
    return {"errors": kept[:ERRORS_SHOWN], "older": max(0, len(kept) - ERRORS_SHOWN)}


class Guard:
    """Checks a command's token: ``None`` when it may go, else the refusal to answer."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    async def refusal(self, request: Request) -> Response | None:
        """403 read only, 401 without a token, 403 with a wrong one; None: allowed."""
        if self.token is None:
            return PlainTextResponse("read only: start engine web with --token to send"
                                     " commands", status_code=403)
        given = await _token(request)
        if given is None:
            return PlainTextResponse("a command needs the dashboard's token", status_code=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return PlainTextResponse("wrong token", status_code=403)
        return None


def command_endpoint(state: State, token: str | None, send: Send | None, *,
                     partition: bool = False) -> Callable[[Request], Any]:
    """POST a command: 403 read only, 401 no token, 403 a wrong one, 202 sent.

    ``/processes/{id}/{action}`` (quiet, stop), or with ``partition``
    ``/processes/{id}/partitions/{topic}/{partition}/{action}`` (pause, resume).
    """
    import anyio.to_thread

    guard = Guard(token if send is not None else None)
    actions = PARTITION_COMMANDS if partition else PROCESS_COMMANDS

    async def command(request: Request) -> Response:
        refusal = await guard.refusal(request)
        if refusal is not None or send is None:
            return refusal or PlainTextResponse("read only", status_code=403)
        params = request.path_params
        process, action = params["process_id"], params["action"]
        if action not in actions:
            return PlainTextResponse(f"no command {action!r} (commands: {', '.join(actions)})",
                                     status_code=404)
        known = {str(row.get("id")): row for row in state.processes()}
        if process not in known:
            return PlainTextResponse(f"no process {process!r} reports", status_code=404)
        target = {"topic": params["topic"], "partition": params["partition"]} if partition \
            else None
        await anyio.to_thread.run_sync(send, process, action, target)
        row = known[process]
        what = f"{action} of {target['topic']}/{target['partition']}" if target else action
        return PlainTextResponse(f"{what} sent to {row.get('host')} pid {row.get('pid')}",
                                 status_code=202)

    return command


async def _token(request: Request) -> str | None:
    """The token a request carries: a header, a bearer token or a form field."""
    given = request.headers.get("x-engine-token")
    bearer = request.headers.get("authorization", "")
    if not given and bearer.lower().startswith("bearer "):
        given = bearer[7:].strip()
    if not given and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        fields = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (fields.get("token") or [""])[0]
    return given or None


def feed_lifespan(start: Callable[[], None], stop: Callable[[], None]
                  ) -> Callable[[Starlette], Any]:
    """A lifespan that starts the feed with the server and stops it with the server."""
    import anyio.to_thread

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(stop)

    return lifespan
