"""``engine web TARGET``: the command serves the dashboard on 127.0.0.1, read only by default."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from engine.broker import free_port
from tests.integration.conftest import FAST_GROUP, wait_until

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
