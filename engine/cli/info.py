"""``engine info``: what an app would run, with which settings, and its lifecycle."""

from __future__ import annotations

from dataclasses import fields

from engine.app import App
from engine.config.kafka import INJECTED_DEFAULTS, masked
from engine.routing.selection import Selection
from engine.routing.topic import Topic


def render(app: App, selection: Selection | None = None) -> str:
    """A plain-text report of routes, subscription groups, settings and the lifecycle."""
    lines = [f"app: client_id={app.settings.client_id!r} state={app.state.value}", ""]
    lines += ["settings:"] + [
        f"  {name} = {value!r}" for name, value in _settings(app).items()
    ]
    lines += ["", "subscription groups:"]
    for subscription_group in app.subscription_groups(selection):
        lines.append(f"  {subscription_group.id}"
                     f"  (consumer group {subscription_group.consumer_group!r})")
        lines.append(
            f"    max_messages={subscription_group.max_messages}"
            f" max_wait_time={subscription_group.max_wait_time}"
            f" initial_offset={subscription_group.initial_offset}"
            f" connections={app.settings.connections_per_group}"
        )
        lines += [_route(topic) for topic in subscription_group.topics]
        lines.append("    librdkafka:")
        for key, value in sorted(masked(subscription_group.kafka).items()):
            note = "  (engine default)" if _injected(key, value, app) else ""
            lines.append(f"      {key} = {value}{note}")
    lines += ["", "declared topics (engine topics):"]
    lines += [f"  {topic.name}: {topic.config.describe()}  ({topic.origin})"
              for topic in app.declared_topics(selection)] or ["  none"]
    lines += ["", "lifecycle (mermaid):", app.lifecycle_diagram()]
    return "\n".join(lines)


def _settings(app: App) -> dict[str, object]:
    """Every setting but ``kafka`` (shown per subscription group) and ``client_id`` (above)."""
    return {field.name: getattr(app.settings, field.name) for field in fields(app.settings)
            if field.name not in ("kafka", "client_id")}


def _route(topic: Topic) -> str:
    """A route's line: its consumer, and how it runs when not plainly."""
    ways = [way for way, on in (("async", topic.is_async),
                                ("long-running", topic.long_running_job),
                                ("manual offsets", topic.manual_offset_management)) if on]
    if topic.virtual_partitions is not None:
        ways.append(f"virtual partitions ({topic.virtual_partitions.distribution})")
    if topic.dead_letter_queue is not None:
        ways.append(f"dead letters to {topic.dead_letter_queue.topic}")
    suffix = f"  [{', '.join(ways)}]" if ways else ""
    return f"    topic {topic.name} -> {topic.consumer_class.__qualname__}{suffix}"


def _injected(key: str, value: object, app: App) -> bool:
    return key in INJECTED_DEFAULTS and key not in app.settings.kafka
