"""Kafka's refusals as one line each: what failed, why, and a hint for the fix."""

from __future__ import annotations

from concurrent.futures import TimeoutError as FutureTimeout

from confluent_kafka import KafkaError, KafkaException

_NOT_AUTHORISED = "grant this principal the ACL for it (kafka-acls --add), or ask the operators"
_UNREACHABLE = "start a broker (engine broker) or fix bootstrap.servers in the app's kafka settings"
HINTS = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED: _NOT_AUTHORISED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: _NOT_AUTHORISED,
    KafkaError.GROUP_AUTHORIZATION_FAILED: _NOT_AUTHORISED,
    KafkaError.INVALID_REPLICATION_FACTOR: "lower replication_factor in config=, or add brokers",
    KafkaError.INVALID_CONFIG: "fix the value in config= (Kafka's topic config reference"
    " lists what each key takes)",
    KafkaError.POLICY_VIOLATION: "the cluster's topic policy refused it: ask its operators",
    KafkaError.INVALID_PARTITIONS: "partitions can only be added, never removed",
    KafkaError._UNSUPPORTED_FEATURE: "this broker cannot do it (Tansu has no CreatePartitions):"
    " recreate the topic, or use Apache Kafka",
    KafkaError._TIMED_OUT: "the broker did not answer in time: retry, or give a longer --timeout",
    KafkaError.REQUEST_TIMED_OUT: "the broker did not answer in time: retry, or give a longer"
    " --timeout",
    KafkaError._TRANSPORT: _UNREACHABLE,
    KafkaError._ALL_BROKERS_DOWN: _UNREACHABLE,
    KafkaError.GROUP_ID_NOT_FOUND: "check the consumer group's name",
}
# what an admin call or its future raises when the cluster refuses or does not answer
FAILURES = (KafkaException, FutureTimeout, TimeoutError)
AUTHORISATION = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
                 KafkaError.GROUP_AUTHORIZATION_FAILED)


def kafka_error(error: BaseException) -> KafkaError | None:
    """The ``KafkaError`` inside an exception a future or a call raised, if any."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        return error.args[0]
    return None


def problem(subject: str, action: str, error: BaseException) -> str:
    """``orders: creating it failed: <Kafka's words> (hint: ...)``."""
    found = kafka_error(error)
    if found is None:
        return f"{subject}: {action} failed: {error!r} (hint: see the broker's log)"
    if found.code() in AUTHORISATION:
        hint = HINTS[found.code()]
        return f"{subject}: not authorised for {action}: {found.str()} (hint: {hint})"
    hint = HINTS.get(found.code(), "see the broker's log")
    return f"{subject}: {action} failed: {found.str()} (hint: {hint})"


def unreachable(servers: object, timeout: float, error: BaseException) -> str:
    """The line for a cluster that did not answer a metadata request."""
    found = kafka_error(error)
    why = found.str() if found is not None else repr(error)
    return (f"no Kafka broker answered at {servers} within {timeout:g}s ({why})"
            f" (hint: {_UNREACHABLE})")
