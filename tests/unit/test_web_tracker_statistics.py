"""The web tracker's librdkafka figures when several connections of a process report."""

from __future__ import annotations

from engine.instrumentation.monitor import Monitor
from engine_plugins.web.tracker import Tracker


def _figures(fetch_state: str, committed: int, high: int) -> dict[str, object]:
    return {"topics": {"orders": {"partitions": {"1": {
        "fetch_state": fetch_state, "committed_offset": committed, "stored_offset": -1001,
        "hi_offset": high, "consumer_lag_stored": -1}}}}}


def test_a_connection_that_no_longer_fetches_a_partition_does_not_overwrite_its_figures(
) -> None:
    monitor = Monitor(owner="the-app")
    tracker = Tracker(lambda: None, error_backlog=10, traceback_limit=5,
                      ignore_topics=frozenset())
    tracker.install(monitor)
    # shop/default#2 was given orders/1, which shop/default#1 held before
    monitor.instrument("rebalance.partitions_assigned", None,
                       subscription_group="shop/default#2", consumer_group="shop",
                       partitions=[("orders", 1)])
    monitor.instrument("statistics.emitted", None, subscription_group="shop/default#2",
                       consumer_group="shop", statistics=_figures("active", 40, 50))
    # librdkafka still lists it in #1's figures, frozen at the handover (as it does)
    monitor.instrument("statistics.emitted", None, subscription_group="shop/default#1",
                       consumer_group="shop", statistics=_figures("stopped", 12, 12))
    row = tracker.partitions[("shop", "orders", 1)]
    assert (row["committed"], row["high"]) == (40, 50)
