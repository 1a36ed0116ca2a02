"""A real Apache Kafka broker (KRaft, single node) on loopback for the test suite.

The jars come from Maven Central through ``ci/kafka/pom.xml`` and are cached outside the
repository (``ENGINE_KAFKA_CACHE``, default ``~/.cache/engine``), so only the first run pays
for the download. Needs Java 17+ and Maven.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

from engine.broker import BrokerError, free_port, stop_process

KAFKA_VERSION = "4.4.0"
POM = Path(__file__).resolve().parents[2] / "ci" / "kafka" / "pom.xml"
INSTALL_HINT = "install Java 17+ and Maven (Debian: apt-get install openjdk-17-jre-headless maven)"


def libs_dir() -> Path:
    """Where the broker's jars live (downloaded on first use)."""
    cache = Path(os.environ.get("ENGINE_KAFKA_CACHE", Path.home() / ".cache" / "engine"))
    return cache / f"kafka-{KAFKA_VERSION}" / "libs"


def ensure_jars() -> Path:
    """The jars folder, resolving it with Maven first if it is not cached yet."""
    libs = libs_dir()
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
        return libs
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise BrokerError(f"Apache Kafka needs '{tool}', which is not on PATH; {INSTALL_HINT}")
    staging = Path(tempfile.mkdtemp(prefix="kafka-libs-", dir=libs.parent.parent
                                    if libs.parent.parent.exists() else None))
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={staging}", f"-Dkafka.version={KAFKA_VERSION}"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BrokerError(f"Maven could not resolve Apache Kafka {KAFKA_VERSION}:\n"
                          f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    libs.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


class KafkaBroker:
    """One KRaft node (broker and controller) with a PLAINTEXT listener on 127.0.0.1."""

    def __init__(self, port: int | None = None, log_dir: Path | None = None, *,
                 quick_start: bool = True) -> None:
        """A broker on ``port`` (a free one by default) keeping its log in ``log_dir``.

        ``quick_start``: a JVM tuned to start fast (tests); False for one tuned for
        throughput, as production brokers run (benchmarks).
        """
        self.quick_start = quick_start
        self.port = port or free_port()
        self.controller_port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="kafka-"))
        self.log_dir = log_dir or self.home / "data"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value for clients."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> KafkaBroker:
        """Format the log dir (first time only), start the broker, wait until it answers."""
        libs = ensure_jars()
        properties = self._write_properties()
        if not (self.log_dir / "meta.properties").exists():
            self._format(libs, properties)
        log = (self.home / "server.log").open("ab")
        self.process = subprocess.Popen(
            [*self._java(libs), "kafka.Kafka", str(properties)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        self._wait_until_ready(timeout)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker cleanly (SIGTERM), killing it if it does not exit in time."""
        if self.process is not None:
            stop_process(self.process, timeout)
        self.process = None

    def cleanup(self) -> None:
        """Stop and delete the broker's files."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    @property
    def log_text(self) -> str:
        """The end of the broker's own log, for failure messages."""
        path = self.home / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def _java(self, libs: Path) -> list[str]:
        # the quick start compiles with C1 alone: seconds sooner up, slower once up
        tuning = (["-Xms256m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
                  if self.quick_start else ["-Xms1g", "-Xmx1g"])
        return ["java", *tuning, "-Djava.awt.headless=true", "-cp", f"{libs}/*"]

    def _write_properties(self) -> Path:
        path = self.home / "server.properties"
        path.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.log_dir}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            "group.initial.rebalance.delay.ms=0",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "",
        ]))
        return path

    def _format(self, libs: Path, properties: Path) -> None:
        cluster = cluster_id()
        result = subprocess.run(
            [*self._java(libs), "kafka.tools.StorageTool", "format", "-t", cluster,
             "-c", str(properties)],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def _wait_until_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(f"Kafka exited with code {self.process.returncode}:\n"
                                  f"{self.log_text}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2.0)
                return
            except Exception:  # noqa: BLE001 - not up yet; try until the deadline
                time.sleep(0.2)
        raise BrokerError(f"Kafka did not answer at {self.bootstrap} within {timeout}s:\n"
                          f"{self.log_text}")

    def __enter__(self) -> KafkaBroker:
        """Start the broker."""
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stop it and delete its files."""
        self.cleanup()


def cluster_id() -> str:
    """A random KRaft cluster id: 22 URL-safe base64 characters, never starting with ``-``.

    The storage tool's parser would read an id starting with a dash as an option (one start
    in 64); Kafka's own ``Uuid.randomUuid`` skips those ids for the same reason.
    """
    while True:
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster.startswith("-"):
            return cluster
