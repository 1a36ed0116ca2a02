"""A client's close: once, within a timeout, never inside a poll.

librdkafka's synchronous commit and ``close()`` block for as long as the group coordinator does
not answer (40 s and more during an outage), so the close runs on a helper thread that finishes
on its own: a stop never waits for it past its timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("engine.client")


class BoundedClose:
    """Runs ``shut(binding, deadline)`` on a helper thread, once, and waits at most a timeout.

    ``polling`` is held by the client around ``consume()``: closing inside it crashes the
    binding, so ``close_if_idle`` never cuts in. ``closing`` is True from the first close on.
    """

    def __init__(self, subscription_group: str, binding: Callable[[], Any],
                 shut: Callable[[Any, float], None]) -> None:
        """``binding`` gives the client's live binding (None when not connected)."""
        self.polling = threading.Lock()
        self.closing = False
        self._subscription_group = subscription_group
        self._binding = binding
        self._shut = shut

    def close(self, timeout: float) -> bool:
        """Close within ``timeout``; False when it gave up (the helper goes on alone)."""
        binding = self._binding()
        if binding is None or self.closing:
            return True
        self.closing = True
        closer = threading.Thread(target=self._shut, args=(binding, time.monotonic() + timeout),
                                  name=f"engine.closer#{self._subscription_group}", daemon=True)
        closer.start()
        closer.join(timeout)
        if closer.is_alive():
            log.warning("closing the client of %s did not finish within %.1f s; left to finish"
                        " in the background (the coordinator may be unreachable)",
                        self._subscription_group, timeout)
            return False
        return True

    def close_if_idle(self, timeout: float) -> bool:
        """Close unless a poll is under way; False when one is (nothing done)."""
        if not self.polling.acquire(blocking=False):
            return False
        try:
            self.close(timeout)
        finally:
            self.polling.release()
        return True
