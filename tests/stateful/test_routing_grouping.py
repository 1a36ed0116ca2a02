"""Routing's grouping: members of a subscription group share settings; grouping is stable."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import App
from engine.routing.subscription_group import connection_settings
from tests.conftest import BOOTSTRAP, NoopConsumer

topic_options = st.fixed_dictionaries(
    {},
    optional={
        "initial_offset": st.sampled_from(["earliest", "latest"]),
        "max_messages": st.sampled_from([None, 10, 100]),
        "max_wait_time": st.sampled_from([None, 0.5, 1.0, 1]),
        "kafka": st.dictionaries(
            st.sampled_from(["fetch.min.bytes", "fetch.wait.max.ms"]),
            st.sampled_from([1, 10]), max_size=2,
        ),
    },
)
routes = st.lists(
    st.tuples(st.sampled_from(["engine", "other"]), st.sampled_from([None, "s1", "s2"]),
              topic_options),
    min_size=1, max_size=12,
)


def build(declared: list[tuple[str, str | None, dict[str, Any]]]) -> App:
    app = App(kafka=BOOTSTRAP)
    for index, (group, explicit, options) in enumerate(declared):
        target: Any = app.consumer_group(group)
        if explicit is not None:
            target = target.subscription_group(explicit)
        target.topic(f"topic-{index}", NoopConsumer, **options)
    return app


@settings(max_examples=2 * settings.default.max_examples, deadline=None)
@given(routes)
def test_members_share_identical_settings_and_regrouping_is_deterministic(
    declared: list[tuple[str, str | None, dict[str, Any]]],
) -> None:
    app = build(declared)
    groups = app.subscription_groups()
    for group in groups:
        shared = [connection_settings(t, app.settings) for t in group.topics]
        assert all(s == shared[0] for s in shared)
        assert {t.consumer_group for t in group.topics} == {group.consumer_group}
        assert len({t.subscription_group for t in group.topics}) == 1
    # topics with equal settings in one consumer group and explicit group share a group
    where = {t.name: g.id for g in groups for t in g.topics}
    for g in groups:
        for other in groups:
            if g.id != other.id and g.consumer_group == other.consumer_group:
                a, b = g.topics[0], other.topics[0]
                assert (a.subscription_group != b.subscription_group
                        or connection_settings(a, app.settings)
                        != connection_settings(b, app.settings))
    assert sorted(where) == sorted(f"topic-{i}" for i in range(len(declared)))
    again = build(declared).subscription_groups()
    assert [(g.id, g.topic_names, dict(g.kafka)) for g in again] == [
        (g.id, g.topic_names, dict(g.kafka)) for g in groups
    ]
    assert len({g.id for g in groups}) == len(groups)
