"""Where a runtime call is made: some need the event loop, some must never block it."""

from __future__ import annotations

import asyncio

from engine.errors import BlockingCallError, NotRunningError


def running_loop(call: str) -> asyncio.AbstractEventLoop:
    """The running event loop; ``NotRunningError`` naming ``call`` outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise NotRunningError(
            f"{call} needs a running event loop: it is for async consumers ('async def"
            " consume'); a sync consumer has a blocking call for it") from None


def on_loop() -> bool:
    """Whether the caller runs on an event loop."""
    return asyncio._get_running_loop() is not None  # the cheap check; public get_ raises


def refuse_on_loop(call: str, instead: str) -> None:
    """Raise ``BlockingCallError`` when ``call`` (which blocks) is made on an event loop."""
    if on_loop():
        raise BlockingCallError(
            f"{call} waits for the broker and would block the event loop, and every async"
            f" consumer with it: use {instead}")
