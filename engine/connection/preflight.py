"""Before a process runs an app: does a broker answer with these settings?"""

from __future__ import annotations

from typing import Any, cast

from engine.broker import BrokerUnreachableError
from engine.config.kafka import common_config, logged, refused
from engine.errors import ConfigError

PREFLIGHT_TIMEOUT = 10.0  # seconds the broker has to answer before the server gives up


def check_broker(kafka: dict[str, object], timeout: float | None = None) -> None:
    """Raise ``BrokerUnreachableError`` unless a metadata request succeeds within ``timeout``.

    Settings librdkafka refuses (a misspelt name) are a ``ConfigError`` naming them: the broker
    was never asked.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    timeout = PREFLIGHT_TIMEOUT if timeout is None else timeout
    try:
        client = AdminClient(cast(Any, logged(common_config(kafka))))
    except KafkaException as error:
        raise ConfigError([refused("kafka", error)]) from error
    try:
        client.list_topics(timeout=timeout)
    except Exception as error:
        servers = kafka.get("bootstrap.servers")
        raise BrokerUnreachableError(
            f"no Kafka broker answered at {servers} within {timeout:.0f}s ({error})"
        ) from error
