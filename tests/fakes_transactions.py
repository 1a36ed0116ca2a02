"""A fake transactional producer client: records its calls, and can fail or hang on one."""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException


class FakeTransactionalClients:
    """Builds ``FakeTransactionalClient``s (a ``client_factory``) sharing one call log.

    ``fail[name]`` raises that ``KafkaError`` from the next call ``name`` (once);
    ``hang`` names a call that blocks until ``release`` is set.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.configs: list[dict[str, Any]] = []
        self.fail: dict[str, KafkaError] = {}
        self.hang: str | None = None
        self.release = threading.Event()

    def __call__(self, config: dict[str, Any]) -> FakeTransactionalClient:
        self.configs.append(dict(config))
        return FakeTransactionalClient(self, len(self.configs))

    def names(self) -> list[str]:
        """The calls made, by name, in order (produce included)."""
        return [call[0] for call in self.calls]


class FakeTransactionalClient:
    """One transactional producer client (its number counts the clients built)."""

    def __init__(self, clients: FakeTransactionalClients, number: int) -> None:
        self._clients = clients
        self.number = number
        self._pending: list[Any] = []

    def _step(self, name: str, *args: Any) -> None:
        clients = self._clients
        clients.calls.append((name, self.number, *args))
        if clients.hang == name:
            clients.hang = None
            clients.release.wait(60)
        error = clients.fail.pop(name, None)
        if error is not None:
            raise KafkaException(error)

    def init_transactions(self, timeout: float) -> None:
        self._step("init_transactions")

    def begin_transaction(self) -> None:
        self._step("begin_transaction")

    def send_offsets_to_transaction(self, positions: list[Any], metadata: Any,
                                    timeout: float) -> None:
        self._step("send_offsets_to_transaction",
                   [(p.topic, p.partition, p.offset) for p in positions], metadata)

    def commit_transaction(self, timeout: float) -> None:
        self._step("commit_transaction")

    def abort_transaction(self, timeout: float) -> None:
        self._step("abort_transaction")

    def produce(self, topic: str, value: Any, **options: Any) -> None:
        self._clients.calls.append(("produce", self.number, topic, value))
        self._pending.append(options.get("on_delivery"))

    def poll(self, timeout: float = 0.0) -> int:
        pending, self._pending = self._pending, []
        for report in pending:
            if report is not None:
                report(None, None)
        return len(pending)

    def flush(self, timeout: float = 0.0) -> int:
        self.poll()
        self._clients.calls.append(("flush", self.number))
        return 0
