"""One routed topic and the rules its options must follow."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.config.kafka import kafka_problems
from engine.consumer import Consumer
from engine.errors import RoutingError
from engine.routing.dead_letter_queue import DeadLetterQueue
from engine.routing.names import topic_name_problem
from engine.routing.topic_config import TopicConfig, config_problems
from engine.virtual.settings import VirtualPartitions

INITIAL_OFFSETS = ("earliest", "latest")


@dataclass(frozen=True)
class Topic:
    """A topic route: which consumer handles it and how; None settings inherit the app's."""

    name: str
    consumer_class: type[Consumer]
    consumer_group: str
    subscription_group: str | None = None
    initial_offset: str = "earliest"
    max_messages: int | None = None
    max_wait_time: float | None = None
    kafka: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    deserializer: Callable[..., Any] | None = None
    key_deserializer: Callable[..., Any] | None = None
    manual_offset_management: bool = False
    dead_letter_queue: DeadLetterQueue | None = None
    long_running_job: bool = False
    active: bool = True
    config: TopicConfig | None = None
    virtual_partitions: VirtualPartitions | None = None

    @property
    def is_async(self) -> bool:
        """Whether the consumer's ``consume`` is ``async def``: it runs on the app's loop."""
        return is_async_consumer(self.consumer_class)

    @classmethod
    def build(cls, name: str, consumer_class: Any, **options: Any) -> Topic:
        """Validate a route and return it, or raise ``RoutingError`` naming the topic."""
        problems = _problems(name, consumer_class, options)
        if problems:
            shown = name if isinstance(name, str) else repr(name)
            raise RoutingError(f"topic {shown!r}: " + "; ".join(problems))
        options["kafka"] = MappingProxyType(dict(options.get("kafka") or {}))
        if options.get("config") is not None:
            options["config"] = TopicConfig.build(options["config"])
        return cls(name=name, consumer_class=consumer_class, **options)


def _problems(name: Any, consumer_class: Any, options: dict[str, Any]) -> list[str]:
    problems = [problem for problem in [topic_name_problem(name)] if problem]
    if not (isinstance(consumer_class, type) and issubclass(consumer_class, Consumer)):
        problems.append(f"consumer {consumer_class!r} must be a subclass of engine.Consumer")
    else:
        problems += _async_hook_problems(consumer_class)
    offset = options.get("initial_offset", "earliest")
    if offset not in INITIAL_OFFSETS:
        problems.append(f"initial_offset must be 'earliest' or 'latest' (got {offset!r})")
    problems += _limit_problems(options)
    kafka = options.get("kafka") or {}
    problems += kafka_problems(kafka, "kafka", require_bootstrap=False)
    for hook in ("deserializer", "key_deserializer"):
        if options.get(hook) is not None and not callable(options[hook]):
            problems.append(f"{hook} must be callable (got {options[hook]!r})")
    if options.get("config") is not None:
        problems += config_problems(options["config"])
    problems += _virtual_problems(options)
    return problems + _dlq_problems(name, options.get("dead_letter_queue"))


def _virtual_problems(options: dict[str, Any]) -> list[str]:
    """Every problem of ``virtual_partitions`` (None: the topic has none)."""
    virtual = options.get("virtual_partitions")
    if virtual is None:
        return []
    if not isinstance(virtual, VirtualPartitions):
        return [f"virtual_partitions must be an engine.VirtualPartitions (got {virtual!r})"]
    return virtual.problems()


HOOKS = ("consume", "initialized", "revoked", "shutdown", "eofed", "wrap")


def is_async_consumer(consumer_class: type[Consumer]) -> bool:
    """Whether ``consume`` is ``async def`` (API.md section 13: the consumer is async)."""
    return inspect.iscoroutinefunction(consumer_class.consume)


def _async_hook_problems(consumer_class: type[Consumer]) -> list[str]:
    """``async def`` hooks of a consumer whose ``consume`` is a plain ``def``.

    Such a consumer runs on worker threads, where a coroutine would never be awaited (and
    its batch marked unprocessed); an async consumer may make any hook ``async def``. An
    async generator is never a hook.
    """
    is_async = is_async_consumer(consumer_class)
    name = consumer_class.__qualname__
    problems = []
    for hook in HOOKS:
        method = getattr(consumer_class, hook)
        if hook == "wrap":
            problems += _wrap_problems(name, method, is_async)
        elif inspect.isasyncgenfunction(method):
            problems.append(f"{name}.{hook} is an async generator, which the engine never"
                            " runs: make it 'async def' returning None")
        elif inspect.iscoroutinefunction(method) and not is_async:
            problems.append(
                f"{name}.{hook} is 'async def' but consume is a plain 'def' (its coroutine"
                f" would never be awaited): make consume 'async def' too, or {hook} a plain"
                " 'def'")
    return problems


def _wrap_problems(name: str, wrap: Any, is_async: bool) -> list[str]:
    """``wrap`` must return a context manager: an async one only for an async consumer."""
    if inspect.iscoroutinefunction(wrap) or inspect.isasyncgenfunction(wrap):
        return [f"{name}.wrap is 'async def' without @contextlib.asynccontextmanager: it must"
                " return a context manager (an async consumer may decorate an async generator"
                " with asynccontextmanager)"]
    if inspect.isasyncgenfunction(inspect.unwrap(wrap)) and not is_async:
        return [f"{name}.wrap is an async context manager but consume is a plain 'def': make"
                " consume 'async def' too, or wrap a plain context manager"]
    return []


def _limit_problems(options: dict[str, Any]) -> list[str]:
    problems = []
    count = options.get("max_messages")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        problems.append(f"max_messages must be an integer >= 1 (got {count!r})")
    wait = options.get("max_wait_time")
    if wait is not None and (
        isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait <= 0
    ):
        problems.append(f"max_wait_time must be a number of seconds > 0 (got {wait!r})")
    for flag in ("manual_offset_management", "long_running_job", "active"):
        if flag in options and not isinstance(options[flag], bool):
            problems.append(f"{flag} must be True or False (got {options[flag]!r})")
    return problems


def _dlq_problems(name: Any, dlq: Any) -> list[str]:
    if dlq is None:
        return []
    if not isinstance(dlq, DeadLetterQueue):
        return [f"dead_letter_queue must be an engine.DeadLetterQueue (got {dlq!r})"]
    problems = [p for p in [topic_name_problem(dlq.topic)] if p]
    if dlq.topic == name:
        problems.append("the dead-letter topic must differ from the topic itself")
    max_retries = dlq.max_retries
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        problems.append(
            f"dead_letter_queue.max_retries must be an integer >= 0 (got {max_retries!r})"
        )
    return problems
