"""Swarm: supervised node processes on a real broker; SIGKILLs, hangs, stops, orphans."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.conftest import GROUP_ENV, committed, produce, wait_until

APP = Path(__file__).with_name("swarm_app.py")


class Swarm:
    """An ``engine swarm`` subprocess, its log in a file, its processed messages in another."""

    def __init__(self, tmp: Path, bootstrap: str, topic: str, group: str, nodes: int,
                 **env: str) -> None:
        self.out, self.log = tmp / "processed.txt", tmp / "swarm.log"
        self.out.touch()
        self._log_file = self.log.open("w")
        environment = {**os.environ, "BOOTSTRAP": bootstrap, "TOPIC": topic, "GROUP": group,
                       "OUT": str(self.out), **GROUP_ENV, **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine", "swarm", str(APP), "--nodes", str(nodes)],
            env=environment, stderr=self._log_file, stdout=subprocess.DEVNULL)

    def close(self) -> None:
        self._log_file.close()

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def processed(self) -> set[tuple[int, int]]:
        return {(int(p), int(o)) for _, p, o in
                (line.split() for line in self.out.read_text().splitlines())}

    def node_pids(self) -> list[int]:
        """Pids of the nodes started so far, in order."""
        return [int(m.group(1)) for line in self.lines()
                if (m := re.search(r"swarm\.node\.started node=\d+ pid=(\d+)", line))]

    def stop(self, timeout: float = 90) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")  # zombies are gone


@contextmanager
def swarm(tmp: Path, bootstrap: str, topic: str, group: str, nodes: int,
          **env: str) -> Iterator[Swarm]:
    running = Swarm(tmp, bootstrap, topic, group, nodes, **env)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(30)
        for pid in running.node_pids():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        running.close()


def test_a_killed_node_is_replaced_nothing_is_lost_and_sigterm_stops_all(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(4), unique("g")
    first = {p: produce(bootstrap, topic, [b"{}"] * 25, partition=p)[p] for p in range(4)}
    with swarm(tmp_path, bootstrap, topic, group, 2) as running:
        wait_until(lambda: len(running.processed()) == 100, message="the first 100 processed")
        victim = running.node_pids()[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(running.node_pids()) == 3, message="a replacement node")
        for p in range(4):
            produce(bootstrap, topic, [b"{}"] * 25, partition=p)
        wait_until(lambda: len(running.processed()) == 200, message="all 200 processed")
        assert running.stop() == 0
        log = "\n".join(running.lines())
        assert f"pid={victim} exit_code=-9" in log and "swarm.node.restarting node=0" in log
        assert not [pid for pid in running.node_pids() if alive(pid)]
    assert committed(bootstrap, group, topic, 4) == {p: 50 for p in range(4)}
    assert all(offsets == list(range(25)) for offsets in first.values())


def test_a_hung_node_is_killed_after_its_report_timeout_and_restarted(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * 10, partition=0)
    with swarm(tmp_path, bootstrap, topic, group, 1, NODE_REPORT_TIMEOUT="3",
               HANG_MARKER=str(tmp_path / "hung")) as running:
        wait_until(lambda: len(running.processed()) == 10, message="processed after a restart")
        log = "\n".join(running.lines())
        assert re.search(r"swarm\.node\.error node=0 pid=\d+ exit_code=None: a listener made no"
                         r" progress for [\d.]+ s: killed", log), log
        assert len(running.node_pids()) == 2
        assert running.stop() == 0


def test_nodes_stop_on_their_own_when_the_supervisor_is_killed(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(2), unique("g")
    with swarm(tmp_path, bootstrap, topic, group, 2) as running:
        wait_until(lambda: len(running.node_pids()) == 2, message="both nodes started")
        pids = running.node_pids()
        running.process.kill()
        running.process.wait(30)
        wait_until(lambda: not any(alive(pid) for pid in pids), message="the nodes gone")


def test_an_app_that_cannot_run_as_configured_ends_the_swarm_with_exit_1(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    with swarm(tmp_path, bootstrap, make_topic(1), unique("g"), 2, BAD_KAFKA="1") as running:
        assert running.process.wait(90) == 1
        log = "\n".join(running.lines())
        assert "the app cannot run as configured" in log and "fetch.min.bytes" in log
        assert "swarm.node.restarting" not in log
        assert any(line.startswith("engine: a swarm node found that the app cannot run as"
                                   " configured") for line in running.lines())


def test_swarm_needs_a_node_count(tmp_path: Any) -> None:
    result = subprocess.run([sys.executable, "-m", "engine", "swarm", str(APP)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "engine: the following arguments are required: --nodes" in (
        result.stderr)  # a usage error is an error at start (2 means a forced stop)


def test_quiet_and_dump_signals_reach_every_node(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(2), unique("g")
    with swarm(tmp_path, bootstrap, topic, group, 2) as running:
        wait_until(lambda: sum("partitions assigned" in line for line in running.lines()) >= 2,
                   message="both nodes consuming")
        running.process.send_signal(signal.SIGTTIN)
        wait_until(lambda: sum("thread engine.reporter" in line for line in running.lines()) >= 2,
                   message="each node's thread dump")
        running.process.send_signal(signal.SIGTSTP)
        wait_until(lambda: sum(line.endswith(" quiet") and "listener" in line
                               for line in running.lines()) >= 2, message="both nodes quiet")
        assert running.stop() == 0


def test_a_node_that_cannot_stop_in_time_makes_the_swarm_exit_2(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"], partition=0)
    marker = tmp_path / "hung"
    with swarm(tmp_path, bootstrap, topic, group, 1, HANG_MARKER=str(marker),
               SHUTDOWN_TIMEOUT="3") as running:
        wait_until(marker.exists, message="the consumer hanging")
        assert running.stop() == 2  # the node's own stop was forced after 3 s: exit code 2
        log = "\n".join(running.lines())
        assert re.search(r"swarm\.node\.stopped node=0 pid=\d+ exit_code=2 graceful=False", log)
        assert not [pid for pid in running.node_pids() if alive(pid)]


def test_every_node_line_names_its_node_and_the_supervisor_is_supervising(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(2), unique("g")
    for p in range(2):
        produce(bootstrap, topic, [b"{}"], partition=p)
    with swarm(tmp_path, bootstrap, topic, group, 2) as running:
        wait_until(lambda: sum("recorded 1 message(s)" in line for line in running.lines())
                   == 2, message="each node recorded its partition's message")
        pids = running.node_pids()
        assert running.stop() == 0
        lines = running.lines()

    def tags(text: str) -> list[tuple[int, int]]:
        return sorted((int(m.group(1)), int(m.group(2))) for line in lines if text in line
                      if (m := re.match(r"node=(\d+) pid=(\d+) ", line)))

    both = [(0, pids[0]), (1, pids[1])]
    assert tags(" received SIGTERM") == both  # the engine's lines, one per node
    # the user's own logger: tagged too (one node may have taken both partitions)
    recorded = tags(" recorded 1 message(s)")
    assert len(recorded) == 2 and set(recorded) <= set(both)
    assert tags(" app running (was initialized)") == both  # each node's app starts afresh
    supervisor = [line for line in lines if not line.startswith("node=")]
    story = [line.split(" app ", 1)[1] for line in supervisor if " app " in line]
    assert story == ["supervising (was initialized)", "stopping (was supervising)",
                     "stopped (was stopping)", "terminated (was stopped)"]
