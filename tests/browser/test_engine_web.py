"""``engine web`` serves the dashboard (127.0.0.1, read only by default); ``engine server``
with the plugin obeys a stop command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from engine.broker import free_port
from tests.integration.conftest import DEADLINE, FAST_GROUP, wait_until

WAIT_MS = DEADLINE * 1000

pytestmark = pytest.mark.integration


def fetch(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:  # not listening yet
        return 0, str(error)


def test_engine_web_serves_the_pages_read_only_without_a_token(bootstrap: str,
                                                               tmp_path: Path) -> None:
    target = tmp_path / "shop.py"
    kafka = {"bootstrap.servers": bootstrap, **FAST_GROUP}
    target.write_text(f"from engine import App\napp = App(kafka={kafka!r}, client_id='shop')\n")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "engine", "web", str(target),
                               "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: fetch(url + "/")[0] == 200, message="the dashboard to answer")
        body = fetch(url + "/")[1]
        assert "<h1>Overview</h1>" in body
        assert fetch(url + "/processes/any/stop", "POST")[0] == 403  # no --token: read only
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=60)
    assert server.returncode == 0, errors
    assert f"dashboard on http://127.0.0.1:{port}/ (read only)" in errors


def test_engine_server_stops_gracefully_on_a_stop_command(bootstrap: str, tmp_path: Path) -> None:
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition
    from confluent_kafka import Consumer as KafkaConsumer

    from engine.broker import create_topics
    from engine.web.codec import COMMANDS_TOPIC, REPORTS_TOPIC, decode, encode
    from tests.integration.conftest import produce

    run = free_port()  # a number no other test uses for its names
    topic, group = f"web-served-{run}", f"web-server-{run}"
    create_topics(bootstrap, {topic: 1})
    target = tmp_path / "shop.py"
    kafka = {"bootstrap.servers": bootstrap, **FAST_GROUP}
    target.write_text(
        "from engine import App, Consumer\n"
        "class Takes(Consumer):\n"
        "    def consume(self, messages):\n"
        "        for message in messages:\n"
        "            self.mark_as_consumed(message)\n"
        f"app = App(kafka={kafka!r}, client_id={group!r})\n"
        f"app.topic({topic!r}, Takes)\n")
    server = subprocess.Popen([sys.executable, "-m", "engine", "server", str(target),
                               "--plugin", "web"], stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "ENGINE_WEB_INTERVAL": "0.5"})
    reader = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                            "enable.auto.commit": False})
    found: list[str] = []

    def running_process() -> bool:
        for message in reader.consume(100, 0.2):
            record = decode(message.value()) if message.error() is None else {}
            process = record.get("process", {})
            if process.get("client_id") == group and process.get("state") == "running":
                found.append(process["id"])
        return bool(found)

    try:
        wait_until(lambda: REPORTS_TOPIC in reader.list_topics(timeout=10).topics,
                   message=f"{REPORTS_TOPIC} to exist")  # the plugin creates it as it starts
        reader.assign([TopicPartition(REPORTS_TOPIC, 0, OFFSET_BEGINNING)])
        wait_until(running_process, message="the server's report")
        produce(bootstrap, COMMANDS_TOPIC, [(found[0].encode(), encode(
            "command", {"action": "stop", "process": found[0]}))])
        code = server.wait(90)
    finally:
        reader.close()
        if server.poll() is None:
            server.kill()
        errors = server.communicate(timeout=30)[1]
    assert code == 0, errors
    assert "the dashboard asked this process to stop" in errors


def test_the_overview_after_the_demo_shows_its_process_throughput_and_lag(browser: Any) -> None:
    from playwright.sync_api import expect

    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "engine", "demo", "--messages", "3000",
                             "--partitions", "2", "--web", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reading = threading.Thread(target=lambda: lines.extend(demo.stdout or ()), daemon=True)
    reading.start()
    try:
        wait_until(lambda: any("the dashboard stays up" in line for line in lines) or
                   demo.poll() is not None, message="the demo's run to end")
        assert any("processed 3000/3000" in line for line in lines), "".join(lines)
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.locator("#total-messages")).to_contain_text("3000", timeout=WAIT_MS)
            expect(page.locator("tr.process", has_text="engine-demo")).to_have_count(1)
            expect(page.locator("#chart-throughput figcaption")).to_contain_text("msg/s")
            expect(page.locator("#chart-lag figcaption")).to_contain_text("Lag")
            expect(page.locator("#total-lag")).to_have_text("0")  # all of it consumed
        finally:
            page.close()
        demo.send_signal(signal.SIGINT)  # the demo's end, as Ctrl-C ends it
        assert demo.wait(60) == 0, "".join(lines)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(30)
        reading.join(30)
        if demo.stdout is not None:
            demo.stdout.close()


def test_engine_demo_web_on_a_port_in_use_says_so_with_a_hint() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "engine", "demo", "--messages", "10",
                               "--web", str(port)], capture_output=True, text=True, check=False,
                              timeout=DEADLINE)
    assert done.returncode == 1, done.stderr
    assert f"engine: plugin 'web': port {port} on 127.0.0.1 is already in use\n" \
           "hint: choose another port: engine demo --web PORT" in done.stderr
    assert "Traceback" not in done.stderr
