from __future__ import annotations

import dataclasses

import pytest

from engine import App, ConfigError
from engine.config.kafka import INJECTED_DEFAULTS, consumer_config, masked
from engine.config.settings import Settings
from tests.conftest import BOOTSTRAP


def problems_of(**options: object) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        Settings.build(**options)
    return caught.value.problems


def test_defaults_are_valid_and_frozen() -> None:
    settings = Settings.build(kafka=BOOTSTRAP)
    assert settings.concurrency == 5
    assert settings.max_wait_time == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.concurrency = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.kafka["x"] = 1  # type: ignore[index]


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        kafka={}, concurrency=0, max_messages="10", max_wait_time=90.0,
        pause_timeout=40.0, pause_with_exponential_backoff="yes", client_id="",
    )
    assert problems == (
        "kafka: bootstrap.servers is required (e.g. '127.0.0.1:9092')",
        "concurrency must be an integer >= 1 (got 0)",
        "max_messages must be an integer >= 1 (got '10')",
        "client_id must be a non-empty string (got '')",
        "pause_with_exponential_backoff must be True or False (got 'yes')",
        "max_wait_time (90.0) must be lower than shutdown_timeout (60.0)",
        "pause_timeout (40.0) must not exceed pause_max_timeout (30.0)",
    )


def test_the_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as caught:
        App(kafka=BOOTSTRAP, concurrency=0, max_messages=0)
    assert str(caught.value) == (
        "invalid settings (2 problems):\n"
        "  - concurrency must be an integer >= 1 (got 0)\n"
        "  - max_messages must be an integer >= 1 (got 0)"
    )


def test_unknown_setting_suggests_the_close_name() -> None:
    assert problems_of(kafka=BOOTSTRAP, concurency=2) == (
        "concurency is not a setting (did you mean 'concurrency'?)",
    )


@pytest.mark.parametrize("value", [0, -1, "1", None, True])
def test_durations_must_be_positive_numbers(value: object) -> None:
    assert problems_of(kafka=BOOTSTRAP, shutdown_timeout=value)[0] == (
        f"shutdown_timeout must be a number of seconds > 0 (got {value!r})"
    )


def test_group_id_is_refused_with_a_hint() -> None:
    (problem,) = problems_of(kafka={**BOOTSTRAP, "group.id": "g"})
    assert problem.startswith("kafka: group.id cannot be set (the consumer group comes from")


@pytest.mark.parametrize("value", [True, "true", "1"])
def test_auto_offset_store_that_breaks_at_least_once_is_refused(value: object) -> None:
    (problem,) = problems_of(kafka={**BOOTSTRAP, "enable.auto.offset.store": value})
    assert problem.startswith(f"kafka: enable.auto.offset.store={value!r} breaks at-least-once")


def test_auto_offset_store_false_is_accepted() -> None:
    Settings.build(kafka={**BOOTSTRAP, "enable.auto.offset.store": "false"})


@pytest.mark.parametrize("key", ["error_cb", "stats_cb", "on_commit"])
def test_engine_owned_callbacks_are_refused(key: str) -> None:
    (problem,) = problems_of(kafka={**BOOTSTRAP, key: print})
    assert problem.startswith(f"kafka: {key} cannot be set (the engine owns")


def test_kafka_must_be_a_mapping_of_plain_values() -> None:
    assert problems_of(kafka=["x"]) == (
        "kafka must be a dict of librdkafka settings (got list)",
    )
    assert problems_of(kafka={**BOOTSTRAP, "fetch.min.bytes": [1]}) == (
        "kafka: fetch.min.bytes must be a string, number or boolean (got list)",
    )


def test_plugins_must_be_a_list_of_names() -> None:
    assert problems_of(kafka=BOOTSTRAP, plugins="logger") == (
        "plugins must be a list of plugin names (got 'logger')",
    )


def test_consumer_config_layers_defaults_user_values_and_forced_ones() -> None:
    config = consumer_config(
        {**BOOTSTRAP, "fetch.wait.max.ms": 5}, {"fetch.min.bytes": 7},
        group_id="g", client_id="c", initial_offset="latest",
    )
    assert config["fetch.wait.max.ms"] == 5  # the user wins over an injected default
    assert config["fetch.queue.backoff.ms"] == INJECTED_DEFAULTS["fetch.queue.backoff.ms"][0]
    assert config["fetch.min.bytes"] == 7
    assert config["enable.auto.offset.store"] is False
    assert (config["group.id"], config["client.id"], config["auto.offset.reset"]) == (
        "g", "c", "latest",
    )


def test_masked_hides_secrets_only() -> None:
    shown = masked({"sasl.password": "p", "ssl.key.password": "k", "client.id": "c"})
    assert shown == {"sasl.password": "***", "ssl.key.password": "***", "client.id": "c"}


def test_nan_is_no_duration_and_the_async_settings_are_checked() -> None:
    nan = float("nan")
    problems = problems_of(kafka=BOOTSTRAP, pause_timeout=nan, loop_stall_threshold=nan,
                           max_async_jobs=0)
    assert "pause_timeout must be a number of seconds > 0 (got nan)" in problems
    assert "loop_stall_threshold must be a number of seconds > 0 (got nan)" in problems
    assert "max_async_jobs must be an integer >= 1 (got 0)" in problems
