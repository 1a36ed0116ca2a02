from __future__ import annotations

import gc
import json
import time
from datetime import datetime, timezone

import pytest

from engine import Consumer, DeserializationError, Message, Messages
from engine.errors import NotRunningError
from engine.messages.deserializers import Deserializers
from tests.fakes import FakeRaw


def batch(*values: bytes | None, topic: str = "t", partition: int = 3) -> Messages:
    raws = [FakeRaw(topic, partition, 10 + i, value=v, ts=1_700_000_000_000 + i)
            for i, v in enumerate(values)]
    return Messages(raws, topic, partition, polled_at=time.monotonic())


def test_payload_is_json_by_default_and_cached() -> None:
    messages = batch(b'{"a": 1}', None)
    first = messages.first()
    assert first is not None
    assert first.payload == {"a": 1}
    assert first.payload is first.payload
    assert messages[1].payload is None
    assert messages[1].is_tombstone


def test_bad_payload_raises_on_access_naming_where_it_is() -> None:
    message = batch(b"{not json")[0]
    with pytest.raises(DeserializationError) as caught:
        _ = message.payload
    assert str(caught.value).startswith("cannot deserialize the payload of t/3@10: JSONDecodeError")
    assert (caught.value.topic, caught.value.partition, caught.value.offset) == ("t", 3, 10)


def test_custom_deserializers_for_payload_and_key() -> None:
    raw = FakeRaw("t", 0, 5, value=b"7", key=b"k\xff")
    message = Message.of(raw, "t", 0, Deserializers(
        payload=lambda m: int(m.raw_payload) * 2, key=lambda m: m.raw_key,
    ))
    assert (message.payload, message.key) == (14, b"k\xff")
    with pytest.raises(DeserializationError, match="the key of t/0@5: UnicodeDecodeError"):
        _ = Message.of(raw, "t", 0).key


def test_headers_last_value_wins_raw_headers_keep_repeats() -> None:
    raw = FakeRaw("t", 0, 1, headers=[("a", b"1"), ("b", None), ("a", b"2")])
    message = Message.of(raw, "t", 0)
    assert message.headers == {"a": b"2", "b": None}
    assert message.raw_headers == [("a", b"1"), ("b", None), ("a", b"2")]
    assert Message.of(FakeRaw("t", 0, 1), "t", 0).headers == {}


def test_timestamp_is_utc_datetime_or_none() -> None:
    message = Message.of(FakeRaw("t", 0, 1, ts=1_700_000_000_123), "t", 0)
    assert message.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc)
    assert Message.of(FakeRaw("t", 0, 1, ts=None), "t", 0).timestamp is None


def test_batch_indexing_is_stable_and_iteration_in_order() -> None:
    messages = batch(b"1", b"2", b"3")
    assert len(messages) == 3
    assert [m.offset for m in messages] == [10, 11, 12]
    assert messages[0] is messages.first()
    assert messages[-1] is messages.last() is messages[2]
    assert [m.payload for m in messages] == [1, 2, 3] == messages.payloads
    assert next(iter(messages)) is messages[0]  # an indexed message is reused by iteration


def test_empty_batch() -> None:
    messages = Messages([], "t", 0, polled_at=0.0)
    assert (messages.first(), messages.last(), len(messages)) == (None, None, 0)
    assert (messages.metadata.first_offset, messages.metadata.last_offset) == (-1, -1)


def test_metadata_offsets_and_lags() -> None:
    polled = time.monotonic()
    messages = batch(b"1", b"2")
    messages.metadata.polled_at = polled
    meta = messages.metadata
    assert (meta.topic, meta.partition, meta.size, meta.first_offset, meta.last_offset) == (
        "t", 3, 2, 10, 11,
    )
    assert meta.created_at == datetime.fromtimestamp(1_700_000_000.001, tz=timezone.utc)
    assert meta.processing_lag is None and meta.consumption_lag is None
    meta.processed_at = polled + 0.25
    assert meta.processing_lag == pytest.approx(0.25)
    lag = meta.consumption_lag
    assert lag is not None and lag > 365 * 24 * 3600  # the messages are from 2023


def test_iterated_wrappers_do_not_outlive_the_batch() -> None:
    import weakref

    messages = batch(b"1", b"2")
    refs = [weakref.ref(m) for m in messages]
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_runtime_methods_need_a_running_engine() -> None:
    class C(Consumer):
        def consume(self, messages: Messages) -> None: ...

    with pytest.raises(NotRunningError, match="C is not attached to a running engine"):
        C().mark_as_consumed(batch(b"1")[0])
    with pytest.raises(NotImplementedError, match="Consumer must implement consume"):
        Consumer().consume(batch())


def test_json_default_handles_large_payloads() -> None:
    payload = {"items": list(range(1000))}
    assert batch(json.dumps(payload).encode())[0].payload == payload
