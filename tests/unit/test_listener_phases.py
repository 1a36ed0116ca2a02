"""The listener's phases: the thread and the testing kit run the same ones, in the same order."""

from __future__ import annotations

from typing import Any

from engine.lifecycle.listener_state import ListenerState
from tests.conftest import NoopConsumer
from tests.served import fake_listener


def test_a_quiet_listener_waits_in_its_polls_instead_of_spinning() -> None:
    listener, client, workers = fake_listener(NoopConsumer)
    waits: list[bool] = []
    slices: list[int] = []

    def poll_batch(max_messages: int, max_wait_time: float, stopping: Any, *,
                   between_slices: Any) -> list[Any]:
        between_slices()
        slices.append(1)
        waits.append(not stopping())  # False would return at once: a busy loop while quiet
        if len(waits) == 3:
            listener.stop()
        return []

    client.poll_batch = poll_batch  # type: ignore[method-assign]
    listener.open()
    listener.quiet()
    listener.close(serve_quiet=True)
    assert waits == [True, True, True] and len(slices) == 3
    assert listener.status.state is ListenerState.STOPPED
    workers._queue.close()
    assert workers.join(5)


def test_the_phases_announce_the_fetch_loop_around_the_iterations() -> None:
    listener, client, workers = fake_listener(NoopConsumer)
    names: list[str] = []
    for name in ("connection.listener.before_fetch_loop", "connection.listener.fetch_loop",
                 "connection.listener.after_fetch_loop", "connection.listener.stopped"):
        listener.monitor.subscribe(name, lambda sender, _name=name, **event: names.append(_name))
    listener.open()
    listener.iterate()
    listener.iterate()
    listener.quiet()
    listener.close(serve_quiet=False)
    listener.shut_down()  # the thread's ``finally`` runs it again: nothing happens twice
    assert names == ["connection.listener.before_fetch_loop", "connection.listener.fetch_loop",
                     "connection.listener.fetch_loop", "connection.listener.after_fetch_loop",
                     "connection.listener.stopped"]
    assert [call for call in client.calls if call[0] == "close"] == [("close",)]
    workers._queue.close()
    assert workers.join(5)
