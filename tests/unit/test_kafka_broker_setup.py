from __future__ import annotations

from pathlib import Path

import pytest

from engine.broker import BrokerError
from tests.brokers import kafka


def test_missing_java_or_maven_is_a_clear_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGINE_KAFKA_CACHE", str(tmp_path))
    monkeypatch.setattr(kafka.shutil, "which", lambda tool: None if tool == "mvn" else "/x")
    with pytest.raises(BrokerError, match=r"Apache Kafka needs 'mvn', which is not on PATH; "
                                          r"install Java 17\+ and Maven"):
        kafka.ensure_jars()


def test_cached_jars_are_reused_without_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGINE_KAFKA_CACHE", str(tmp_path))
    libs = kafka.libs_dir()
    libs.mkdir(parents=True)
    (libs / f"kafka_2.13-{kafka.KAFKA_VERSION}.jar").write_bytes(b"")
    monkeypatch.setattr(kafka.shutil, "which", lambda tool: None)
    assert kafka.ensure_jars() == libs


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xf8 encodes to "-" first: the storage tool would read such an id as an option
    dashed, plain = kafka.uuid.UUID(bytes=b"\xf8" * 16), kafka.uuid.UUID(bytes=b"\x01" * 16)
    draws = iter([dashed, plain])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))
    assert kafka.cluster_id() == "AQEBAQEBAQEBAQEBAQEBAQ"
