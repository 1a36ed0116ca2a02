"""The embedded broker never outlives what started it: ``engine broker``, ``engine demo``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.broker import free_port
from tests.integration.conftest import DEADLINE, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="finds child processes through /proc")


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaps counts as gone: it holds no port and runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except OSError:
        return False
    return True


Started = Callable[[list[str], Path, str], tuple[subprocess.Popen[bytes], list[int]]]


@pytest.fixture
def started() -> Iterator[Started]:
    """Run a command with stdout to a file; once it printed a line, the process and children.

    Whatever a failed test leaves running is killed at teardown (and reported by the test).
    """
    launched: list[int] = []

    def start(command: list[str], out: Path,
              ready: str) -> tuple[subprocess.Popen[bytes], list[int]]:
        with out.open("wb") as sink:
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        launched.append(process.pid)
        wait_until(lambda: ready in out.read_text() or process.poll() is not None, DEADLINE,
                   f"{ready!r} from {command}")
        assert process.poll() is None, out.read_text()
        kids = children(process.pid)
        launched.extend(kids)
        assert kids, "the broker runs as a child process"
        return process, kids

    yield start
    for pid in launched:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def wait_gone(port: int, pids: list[int]) -> None:
    wait_until(lambda: not accepts(port) and not any(alive(pid) for pid in pids), DEADLINE,
               f"port {port} closed and {pids} gone")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_to_engine_broker_stops_tansu_and_exits_0(
    stop: signal.Signals, tmp_path: Path, started: Started,
) -> None:
    port = free_port()
    broker, kids = started([sys.executable, "-m", "engine", "broker", "--port", str(port)],
                           tmp_path / "out.txt", "broker listening")
    assert accepts(port)
    broker.send_signal(stop)
    assert broker.wait(DEADLINE) == 0, (tmp_path / "out.txt").read_text()
    wait_gone(port, kids)


def test_a_sigkilled_engine_broker_takes_tansu_with_it(tmp_path: Path,
                                                       started: Started) -> None:
    port = free_port()
    broker, kids = started([sys.executable, "-m", "engine", "broker", "--port", str(port)],
                           tmp_path / "out.txt", "broker listening")
    broker.kill()  # no handler runs: the kernel's parent-death signal does the work
    broker.wait(DEADLINE)
    wait_gone(port, kids)


def test_a_broker_started_off_the_main_thread_dies_with_its_process(
    tmp_path: Path, started: Started,
) -> None:
    """The portable fallback (a watchdog process) covers a thread that ends before the app."""
    port = free_port()
    script = tmp_path / "threaded.py"
    script.write_text(textwrap.dedent(f"""
        import threading
        from engine.broker import EmbeddedBroker

        starter = threading.Thread(target=lambda: EmbeddedBroker(port={port}).start())
        starter.start()
        starter.join()   # the thread that started the broker is gone; the broker is not
        print("started", flush=True)
        threading.Event().wait()
    """))
    owner, kids = started([sys.executable, str(script)], tmp_path / "out.txt", "started")
    assert accepts(port)
    assert len(kids) == 2, "the broker and its watchdog"
    owner.kill()
    owner.wait(DEADLINE)
    wait_gone(port, kids)


def test_sigterm_to_engine_demo_stops_its_broker(tmp_path: Path, started: Started) -> None:
    out = tmp_path / "out.txt"
    demo, kids = started([sys.executable, "-m", "engine", "demo", "--messages", "1000000"],
                         out, "embedded broker on")
    port = int(out.read_text().split("embedded broker on 127.0.0.1:")[1].split()[0])
    demo.send_signal(signal.SIGTERM)
    demo.wait(DEADLINE)  # 1 when stopped before every message was processed
    assert "Traceback" not in out.read_text(), out.read_text()
    wait_gone(port, kids)
