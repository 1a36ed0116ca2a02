"""An overdue stop: what still runs, and the forced exit that closes what it safely can."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.connection.listener import Listener
    from engine.producer import Producer
    from engine.runner import Runner

log = logging.getLogger("engine.server")
FORCED_EXIT_CODE = 2
CLOSE_WAIT = 5.0  # seconds a forced stop gives clients to close before the process exits
FLUSH_WAIT = 1.0  # seconds an overdue stop still gives the producer to deliver
CANCEL_WAIT = 5.0  # seconds an overdue stop gives the async jobs it cancelled to end


def still_running(runner: Runner) -> dict[str, Any]:
    """What is still running: jobs in processing, active listeners, alive workers."""
    listeners: Sequence[Listener] = runner.listeners or []
    return {
        "in_processing": {
            group_id: [repr(job) for job in jobs]
            for group_id, jobs in runner.jobs_queue.in_processing().items() if jobs
        },
        "active_listeners": [item.id for item in listeners if item.status.is_active],
        "alive_workers": [thread.name for thread in runner.workers.alive()],
    }


def force_exit(runner: Runner, producer: Producer) -> None:
    """Close what can be closed safely (bounded), flush the logs, exit with code 2."""
    closer = threading.Thread(target=_close_idle_clients, args=(runner, producer),
                              name="engine.closer", daemon=True)
    closer.start()
    closer.join(CLOSE_WAIT)
    logging.shutdown()
    os._exit(FORCED_EXIT_CODE)


def _close_idle_clients(runner: Runner, producer: Producer) -> None:
    producer.flush(FLUSH_WAIT)  # reports what it could not deliver
    # a client whose listener is inside consume() is never closed: the binding would crash
    for listener in runner.listeners or []:
        if listener.status.is_active:
            try:
                listener.client.close_if_idle(timeout=1.0)
            except Exception:
                log.debug("closing %s failed", listener.id, exc_info=True)
