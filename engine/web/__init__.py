"""The web dashboard (API.md section 15): ``asgi_app(app)`` and the record format.

The pages need the ``web`` extra (``pip install 'engine[web]'``: Starlette, Jinja2, uvicorn);
the record format (``engine.web.codec``) is stdlib only, so every process can report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.plugin_options import needs

if TYPE_CHECKING:
    from engine.app import App

__all__ = ["asgi_app"]


def asgi_app(app: App, *, group: str | None = None, refresh: float = 2.0,
             token: str | None = None, browse_messages: bool = True) -> Any:
    """The dashboard of the processes that report on ``app``'s Kafka cluster, as an ASGI app.

    Its own engine app (consumer group ``group``, one per dashboard process by default)
    consumes ``engine_reports`` and ``engine_errors`` while the ASGI server runs (lifespan);
    mount it in an existing ASGI server or serve it with ``engine web``. Pages poll for updates
    every ``refresh`` seconds. With a ``token``, processes get Quiet and Stop buttons, which
    send through ``engine_commands`` (a request without the token is refused: 401, or 403
    for a wrong one); without one it is read only. The Dead letters, Topics and Routes
    sections look at the cluster and at ``app``'s routes; ``browse_messages=False`` hides
    every message (watermarks still show). With the token a dead letter can be re-sent to
    its source topic.
    """
    needs("web", "starlette", "web")
    needs("web", "jinja2", "web")
    from functools import partial

    from engine.web.browse import Browser
    from engine.web.dashboard import dashboard, feed_lifespan
    from engine.web.explore import explorer_of
    from engine.web.feed import Feed
    from engine.web.state import State

    state = State()
    feed = Feed(app, state, group=group)
    browser = Browser(app.settings.kafka)
    explorer = explorer_of(app, browser, browse_messages=browse_messages,
                           resend=partial(feed.resend, browser) if browse_messages else None)
    return dashboard(state, lifespan=feed_lifespan(feed.start, feed.stop), refresh=refresh,
                     token=token, send=feed.send, explorer=explorer)
