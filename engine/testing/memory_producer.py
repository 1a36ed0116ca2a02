"""The in-memory stand-in for ``confluent_kafka.Producer``: what is produced lands in the log."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.testing.faults import Faults
from engine.testing.log import Headers, Log, Record

DeliveryCallback = Callable[[Any, Any], None]
Report = tuple[DeliveryCallback, Any, "Record | None"]  # callback, error, stored message


class DeliveryReports:
    """Delivery reports an in-memory producer owes, served by ``poll`` as librdkafka serves them."""

    def __init__(self) -> None:
        self._reports: list[Report] = []

    def _owe(self, on_delivery: DeliveryCallback | None, error: Any, record: Record | None
             ) -> None:
        """Keep a report for the next ``poll`` (none without a callback)."""
        if on_delivery is not None:
            self._reports.append((on_delivery, error, record))

    def poll(self, timeout: float = 0.0) -> int:
        """Serve the delivery reports; how many."""
        reports, self._reports = self._reports, []
        for report, error, record in reports:
            report(error, record)
        return len(reports)

    def flush(self, timeout: float = 0.0) -> int:
        """Serve every report; nothing is ever left undelivered."""
        self.poll()
        return 0

    def __len__(self) -> int:
        """Reports not served yet."""
        return len(self._reports)


class MemoryProducer(DeliveryReports):
    """Appends each message to the log at once; its delivery report comes with the next poll.

    The engine's own ``Producer`` drives it (encoding, dead-letter headers, sync waits), so a
    consumer's ``produce`` and the dead-letter queue behave as with a broker. ``faults`` may
    kill the process at a call, or fail it: the message is not stored and its report carries
    librdkafka's error.
    """

    def __init__(self, log: Log, faults: Faults | None = None) -> None:
        super().__init__()
        self._log = log
        self._faults = faults or Faults()

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                headers: Any = None, on_delivery: DeliveryCallback | None = None,
                partition: int | None = None) -> None:
        """Store the message (an unknown topic or partition raises ``HarnessError``).

        An armed fault dies here (``ProcessDeath``) or fails the send (nothing stored).
        """
        error = self._faults.producing(topic)
        record = None if error is not None else self._log.append(
            topic, value, key=key, headers=encode_headers(headers), partition=partition)
        self._owe(on_delivery, error, record)

    def drop_reports(self) -> None:
        """Forget the reports not served yet (the process that waited for them died)."""
        self._reports.clear()


def encode_headers(headers: Any) -> Headers | None:
    """Headers as stored: confluent-kafka takes a dict or pairs, text values as UTF-8."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name), value.encode() if isinstance(value, str) else value)
            for name, value in pairs]
