"""``engine server`` as a real process: signals, exit codes, a group of two processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import FAST_GROUP, GROUP_ENV, produce, wait_until

APP = Path(__file__).with_name("server_app.py")


def start_server(bootstrap: str, topic: str, group: str, out: Path,
                 **env: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "BOOTSTRAP": bootstrap, "TOPIC": topic, "GROUP": group,
                   "OUT": str(out), **GROUP_ENV, **env}
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "server", str(APP)], env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def records(out: Path) -> list[tuple[int, int, int]]:
    if not out.exists():
        return []
    return [tuple(map(int, line.split())) for line in out.read_text().splitlines()]  # type: ignore[misc]


def finish(process: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def test_sigterm_stops_gracefully_with_exit_code_0_in_lifecycle_order(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str], tmp_path: Path,
) -> None:
    topic, out = make_topic(2), tmp_path / "out.txt"
    produce(bootstrap, topic, [b"{}"] * 50)
    server = start_server(bootstrap, topic, unique("g"), out)
    wait_until(lambda: len(records(out)) >= 50, message="50 messages in the subprocess")
    server.send_signal(signal.SIGTERM)
    code, output = finish(server)
    assert code == 0, output
    lines = [line.split(" ", 4)[-1] for line in output.splitlines() if " app " in line
             or "received SIGTERM" in line]
    assert lines == [
        "app running (was initialized)",
        "received SIGTERM", "app stopping (was running)", "app stopped (was stopping)",
        "app terminated (was stopped)",
    ], output


def test_a_hanging_consumer_past_shutdown_timeout_exits_2_naming_the_stuck_job(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str], tmp_path: Path,
) -> None:
    topic, out = make_topic(1), tmp_path / "out.txt"
    produce(bootstrap, topic, [b"{}"] * 5)
    server = start_server(bootstrap, topic, unique("g"), out, HANG_AT="3", SHUTDOWN_TIMEOUT="3")
    hang = Path(str(out) + ".hang")
    wait_until(hang.exists, message="the consumer to hang")
    server.send_signal(signal.SIGTERM)
    code, output = finish(server)
    assert code == 2, output
    assert "app.stopping.error" in output
    # the stuck job is named (its first offset depends on how the broker split the fetch)
    assert re.search(rf"Consume\({re.escape(topic)}/0 @\d\.\.[34]\)", output), output
    assert "app stopped" not in output


def test_two_processes_split_partitions_and_one_leaves_mid_stream_losing_nothing(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str], tmp_path: Path,
) -> None:
    topic, group, out = make_topic(4), unique("g"), tmp_path / "out.txt"
    written = produce(bootstrap, topic, [(str(i).encode(), b"{}") for i in range(800)])
    first = start_server(bootstrap, topic, group, out, DELAY="0.01")
    second = start_server(bootstrap, topic, group, out, DELAY="0.01")
    pids = {first.pid, second.pid}
    wait_until(lambda: {pid for _, _, pid in records(out)} == pids,
               message="both processes consuming")
    first.send_signal(signal.SIGTERM)
    code, output = finish(first)
    assert code == 0, output
    expected = {(p, o) for p, offsets in written.items() for o in offsets}
    wait_until(lambda: {(p, o) for p, o, _ in records(out)} >= expected,
               message="every message processed by the survivor")
    second.send_signal(signal.SIGTERM)
    code, output = finish(second)
    assert code == 0, output
    assert {(p, o) for p, o, _ in records(out)} == expected  # nothing lost


@pytest.mark.parametrize("command", [["server"], ["swarm", "--nodes", "1"]])
def test_migrate_creates_the_declared_topics_before_the_app_runs(
    bootstrap: str, unique: Callable[[str], str], tmp_path: Path, command: list[str],
) -> None:
    from engine import App, admin

    topic = unique("declared")
    target = tmp_path / "declaring_app.py"
    target.write_text(
        "from engine import App, Consumer\n"
        "class Idle(Consumer):\n    def consume(self, messages):\n        pass\n"
        f"app = App(kafka={{'bootstrap.servers': {bootstrap!r}, **{FAST_GROUP!r}}},"
        f" client_id={unique('g')!r})\n"
        f"app.topic({topic!r}, Idle, config={{'partitions': 2, 'retention.ms': 3600000}})\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "engine", *command, "--migrate", str(target)], text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    assert server.stdout is not None
    for line in server.stdout:
        lines.append(line)
        if "app running" in line:
            break
    assert any(f"topics: {topic}: create (2 partitions" in line for line in lines), lines
    info = admin.topic_info(App(kafka={"bootstrap.servers": bootstrap}), topic)
    assert (info.partitions, info.configs["retention.ms"]) == (2, "3600000")
    server.send_signal(signal.SIGTERM)
    code, output = finish(server)
    assert code == 0, "".join(lines) + output
