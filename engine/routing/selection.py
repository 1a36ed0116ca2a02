"""Which routes run: include/exclude filters by consumer group, subscription group and topic."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.errors import RoutingError
from engine.routing.subscription_group import SubscriptionGroup
from engine.routing.topic import Topic

_KINDS = ("consumer_groups", "subscription_groups", "topics")


@dataclass(frozen=True)
class Selection:
    """Filters from the CLI: names of one kind are alternatives; kinds combine (AND)."""

    consumer_groups: tuple[str, ...] = ()
    subscription_groups: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    exclude_consumer_groups: tuple[str, ...] = ()
    exclude_subscription_groups: tuple[str, ...] = ()
    exclude_topics: tuple[str, ...] = ()

    def check(self, groups: Sequence[SubscriptionGroup], topics: Iterable[str] = ()) -> None:
        """Raise ``RoutingError`` for any name that matches no route (or one of ``topics``)."""
        known = {
            "consumer_groups": {
                subscription_group.consumer_group for subscription_group in groups
            },
            "subscription_groups": {
                name for subscription_group in groups
                for name in (subscription_group.name, subscription_group.id)
            },
            "topics": {
                t.name for subscription_group in groups for t in subscription_group.topics
            } | set(topics),
        }
        problems = []
        for kind in _KINDS:
            for prefix in ("", "exclude_"):
                for name in getattr(self, prefix + kind):
                    if name not in known[kind]:
                        label = kind[:-1].replace("_", " ")
                        choices = ", ".join(sorted(known[kind])) or "none"
                        problems.append(f"no {label} named {name!r} (known: {choices})")
        if problems:
            raise RoutingError("; ".join(problems))

    def keeps(self, subscription_group: SubscriptionGroup, topic: Topic) -> bool:
        """Whether ``topic`` of ``subscription_group`` passes every filter."""
        return self.keeps_names((subscription_group.consumer_group,),
                                (subscription_group.name, subscription_group.id), (topic.name,))

    def keeps_names(
        self, consumer_groups: Sequence[str], subscription_groups: Sequence[str],
        topics: Sequence[str],
    ) -> bool:
        """Whether something known by these names passes every filter (none: no such kind)."""
        values = {"consumer_groups": consumer_groups,
                  "subscription_groups": subscription_groups, "topics": topics}
        for kind in _KINDS:
            if _hit(getattr(self, "exclude_" + kind), values[kind]):
                return False
            include = getattr(self, kind)
            if include and not _hit(include, values[kind]):
                return False
        return True


def _hit(names: Iterable[str], values: Iterable[str]) -> bool:
    return any(value in names for value in values)
