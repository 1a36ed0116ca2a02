"""The ``engine`` command on a real broker: start-up checks, settings typos, ``topics lag``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.broker import create_topics
from engine.cli.main import main
from tests.integration.conftest import DEADLINE, FAST_GROUP, wait_until
from tests.integration.test_admin import commit_at, produce_one_by_one

APP = """
import logging
from engine import App, Consumer

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
logging.getLogger("engine.librdkafka").setLevel(logging.DEBUG)

class Idle(Consumer):
    def consume(self, messages):
        pass

app = App(kafka={kafka!r}, client_id={group!r})
app.topic({topic!r}, Idle, config={{"partitions": 2}})
"""
RAW_LIBRDKAFKA_LINE = re.compile(r"^%\d\|", re.MULTILINE)


def app_file(tmp_path: Path, unique: Callable[[str], str], **kafka: object) -> Path:
    path = tmp_path / f"{unique('cli_app').replace('-', '_')}.py"
    path.write_text(APP.format(kafka=kafka, group=unique("g"), topic=unique("orders")))
    return path


def engine(*arguments: str, stderr: Path) -> subprocess.Popen[bytes]:
    """``engine ARGUMENTS`` in a process whose real stderr (file descriptor 2) is a file."""
    with stderr.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "engine", *arguments],
                                stdout=subprocess.DEVNULL, stderr=sink)


def test_start_up_probes_with_librdkafka_debug_write_nothing_raw_to_stderr(
    bootstrap: str, unique: Callable[[str], str], tmp_path: Path,
) -> None:
    target = app_file(tmp_path, unique, **{"bootstrap.servers": bootstrap, **FAST_GROUP,
                                           "debug": "cgrp,metadata"})
    err = tmp_path / "stderr.txt"
    # --migrate adds the admin client to the settings check and the broker check
    server = engine("server", str(target), "--migrate", stderr=err)
    try:
        wait_until(lambda: "partitions assigned" in err.read_text(), DEADLINE,
                   "the server to be assigned its partitions")
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(DEADLINE) == 0, err.read_text()
    output = err.read_text()
    assert not RAW_LIBRDKAFKA_LINE.search(output), output[:2000]
    # the settings probe did log its debug lines: through logging, under a name of its own
    assert re.search(r"^engine\.librdkafka\.probe DEBUG ", output, re.MULTILINE), output[:2000]


def test_a_misspelt_librdkafka_setting_is_named_while_the_broker_is_up(
    bootstrap: str, unique: Callable[[str], str], tmp_path: Path,
) -> None:
    target = app_file(tmp_path, unique, **{"bootstrap.servers": bootstrap,
                                           "sesion.timeout.ms": 6000})
    for command in (["server", str(target)], ["topics", "plan", str(target)]):
        result = subprocess.run([sys.executable, "-m", "engine", *command], check=False,
                                capture_output=True, text=True, timeout=DEADLINE)
        assert result.returncode == 1, result.stderr
        assert ('No such configuration property: "sesion.timeout.ms" (did you mean'
                " 'session.timeout.ms'?)") in result.stderr
        assert "no Kafka broker answered" not in result.stderr
        assert "Traceback" not in result.stderr


def test_topics_lag_prints_one_line_per_group_topic_and_partition(
    bootstrap: str, unique: Callable[[str], str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    group, topic = unique("g"), unique("lagging")
    create_topics(bootstrap, {topic: 2})
    produce_one_by_one(bootstrap, topic, 10)  # one record per request: Tansu's watermarks
    produce_one_by_one(bootstrap, topic, 3, partition=1)
    commit_at(bootstrap, group, topic, 4)
    module = unique("lag_app").replace("-", "_")
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(f"""
        from engine import App, Consumer
        class Idle(Consumer):
            def consume(self, messages):
                pass
        app = App(kafka={{"bootstrap.servers": {bootstrap!r}}}, client_id={group!r})
        app.topic({topic!r}, Idle)
        app.consumer_group("other").topic({topic!r}, Idle)
    """))
    monkeypatch.chdir(tmp_path)
    assert main(["topics", "lag", module]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{group} {topic}/0: committed 4, end 10, lag 6",
        f"{group} {topic}/1: committed none, end 3, lag 3",
        f"other {topic}/0: committed none, end 10, lag 10",
        f"other {topic}/1: committed none, end 3, lag 3",
    ]
    assert main(["topics", "lag", module, "--consumer-group", "other"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
