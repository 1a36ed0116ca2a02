"""The dashboard in a real headless Chromium, over a real broker and a running app."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from engine import Consumer, DeadLetterQueue, Messages
from engine.broker import create_topics, free_port
from engine.web import asgi_app
from engine_plugins.web import WebPlugin
from tests.integration.conftest import DEADLINE, make_app, produce, wait_until

pytestmark = pytest.mark.integration
XSS = "<script>window.owned = 1</script><img src=x onerror=\"window.owned = 2\">"
WAIT_MS = DEADLINE * 1000
TOKEN = "s3cret"


class Orders(Consumer):
    """Takes every message; one whose payload is ``xss`` fails once with an XSS payload."""

    failed: ClassVar[set[int]] = set()

    def consume(self, messages: Messages) -> None:
        for message in messages:
            if message.raw_payload == b"xss" and message.offset not in self.failed:
                self.failed.add(message.offset)
                raise ValueError(XSS)
            self.mark_as_consumed(message)


class Rejects(Consumer):
    """Refuses every payment: each goes to the dead-letter topic at once."""

    seen: ClassVar[list[bytes]] = []

    def consume(self, messages: Messages) -> None:
        self.seen.extend(message.raw_payload or b"" for message in messages)
        raise ValueError("payment refused")


class Slow(Consumer):
    """A long job: holds its batch until the test lets it go."""

    release: ClassVar[threading.Event] = threading.Event()

    def consume(self, messages: Messages) -> None:
        self.release.wait(DEADLINE)
        for message in messages:
            self.mark_as_consumed(message)


class Served:
    """The worker app (plugin ``web``) and the dashboard, served by uvicorn on a free port."""

    def __init__(self, bootstrap: str) -> None:
        import uvicorn

        run = uuid.uuid4().hex[:6]
        self.topic, self.client_id = f"web-orders-{run}", f"web-worker-{run}"
        self.payments, self.dead = f"web-payments-{run}", f"web-payments-dlq-{run}"
        self.reports = f"web-reports-{run}"
        create_topics(bootstrap, {self.topic: 2, self.payments: 1, self.dead: 1,
                                  self.reports: 1})
        self.worker = make_app(bootstrap, self.client_id, pause_timeout=0.1)
        self.worker.topic(self.topic, Orders)
        self.worker.topic(self.payments, Rejects,
                          dead_letter_queue=DeadLetterQueue(self.dead, max_retries=0))
        self.worker.topic(self.reports, Slow, long_running_job=True)
        self.plugin = WebPlugin(interval=0.5)
        self.worker.use(self.plugin)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the dashboard of the worker's own app, as `engine web TARGET` serves it
        dashboard = asgi_app(self.worker, refresh=0.5, token=TOKEN)
        self.server = uvicorn.Server(uvicorn.Config(dashboard, host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self.server.run, name="test.uvicorn")

    def start(self) -> None:
        self.worker.start()
        self._thread.start()
        deadline = time.monotonic() + DEADLINE
        while not self.server.started:  # uvicorn's own flag, set once it listens
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        Slow.release.set()
        self.server.should_exit = True
        self._thread.join(DEADLINE)
        self.worker.stop()


@pytest.fixture(scope="module")
def served(bootstrap: str) -> Iterator[Served]:
    Orders.failed, Rejects.seen = set(), []
    Slow.release.clear()
    served = Served(bootstrap)
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    try:
        yield page
    finally:
        page.close()


def process_row(page: Any, served: Served) -> Any:
    return page.locator("tr.process", has_text=served.client_id)


def test_the_overview_shows_the_process_and_its_counts_live(
        bootstrap: str, served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(served.url + "/")
    row = process_row(page, served)
    expect(row).to_contain_text("running", timeout=WAIT_MS)
    produce(bootstrap, served.topic, [(str(i).encode(), b"ok") for i in range(25)])
    # the page is not reloaded: the live update brings the new count
    expect(row.locator("td").nth(8)).to_have_text("25", timeout=WAIT_MS)
    # and the last hour's throughput is drawn
    expect(page.locator("#chart-throughput polyline")).not_to_have_attribute("points", "")
    shot = os.environ.get("ENGINE_WEB_SCREENSHOT")  # for the docs: a picture of this page
    if shot:
        page.screenshot(path=shot, full_page=True)
    cells = row.locator("td")
    assert cells.nth(0).inner_text() == served.plugin.process_id.split(":")[0]  # the host
    assert cells.nth(1).inner_text() == served.plugin.process_id.split(":")[1]  # the pid


def test_every_section_is_reached_from_the_root_by_its_name(served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    for name in ("Processes", "Consumer groups", "Jobs", "Errors"):
        page.goto(served.url + "/")
        page.get_by_role("link", name=name, exact=True).click()
        expect(page.locator("h1")).to_have_text(name)


def test_consumer_groups_list_each_partition(bootstrap: str, served: Served,
                                             page: Any) -> None:
    from playwright.sync_api import expect

    produce(bootstrap, served.topic, [b"ok"], partition=1)
    page.goto(served.url + "/groups")
    group = page.locator("section.group", has=page.get_by_role(
        "heading", name=served.client_id, exact=True))
    expect(group.locator("tbody tr", has_text=served.topic)).to_have_count(2, timeout=WAIT_MS)
    headers = group.locator("thead th").all_inner_texts()
    assert headers[:6] == ["topic", "partition", "lag", "committed", "high", "paused"]
    expect(group.locator("tbody tr", has_text=served.topic).first).to_contain_text(
        served.topic)


def test_an_error_shows_with_its_traceback_and_its_payload_as_text(
        bootstrap: str, served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    produce(bootstrap, served.topic, [(b"k", b"xss")], partition=0)
    page.goto(served.url + "/")
    page.get_by_role("link", name="Errors", exact=True).click()
    error = page.locator("article.error", has_text=served.topic).first
    expect(error.locator(".error-message")).to_have_text(XSS, timeout=WAIT_MS)
    expect(error.locator("pre.traceback")).to_contain_text("raise ValueError(XSS)")
    expect(error).to_contain_text("consumer.consume.error")
    assert error.locator("img, script").count() == 0  # shown as text, never as markup
    assert page.evaluate("window.owned") is None


def test_a_long_job_shows_while_it_runs(bootstrap: str, served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    produce(bootstrap, served.reports, [b"monthly"])
    page.goto(served.url + "/")
    page.get_by_role("link", name="Jobs", exact=True).click()
    job = page.locator("tbody tr", has_text=served.reports)
    expect(job).to_contain_text("consume", timeout=WAIT_MS)
    assert served.plugin.process_id.split(":")[1] in job.inner_text()  # its pid
    Slow.release.set()
    expect(job).to_have_count(0, timeout=WAIT_MS)  # gone, live, once it ended


def test_the_topics_explorer_shows_watermarks_and_messages_as_text(
        bootstrap: str, served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    produce(bootstrap, served.topic, [(b"k", b"<b>bold</b>")], partition=1)
    page.goto(served.url + "/")
    page.get_by_role("link", name="Topics", exact=True).click()
    page.get_by_role("link", name=served.topic, exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Topic {served.topic}")
    assert page.locator("thead th").all_inner_texts()[:3] == ["partition", "low", "high"]
    page.get_by_role("link", name="1", exact=True).click()
    expect(page.locator("pre.payload", has_text="<b>bold</b>")).to_have_count(1)
    assert page.locator("pre.payload b").count() == 0


def test_a_dead_letter_shows_its_source_and_goes_back_with_the_token(
        bootstrap: str, served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    produce(bootstrap, served.payments, [(b"p1", b"pay-1")])
    page.goto(served.url + "/")
    page.get_by_role("link", name="Dead letters", exact=True).click()
    section = page.locator("section.dead-letters", has=page.get_by_role(
        "heading", name=served.dead, exact=True))
    row = section.locator("tbody tr", has_text="pay-1")
    expect(row).to_have_count(1, timeout=WAIT_MS)  # the page follows live
    expect(row).to_contain_text(f"source_topic: {served.payments}")
    row.get_by_role("button", name="Re-send").click()
    expect(page.locator("#command-status")).to_contain_text("401", timeout=WAIT_MS)
    assert Rejects.seen == [b"pay-1"]
    page.locator("#token").fill(TOKEN)
    row.get_by_role("button", name="Re-send").click()
    expect(page.locator("#command-status")).to_contain_text(
        f"re-sent to {served.payments}", timeout=WAIT_MS)
    wait_until(lambda: Rejects.seen == [b"pay-1", b"pay-1"],
               message="the payment consumed again")


def test_routes_and_declared_topics_are_listed(served: Served, page: Any) -> None:
    page.goto(served.url + "/")
    page.get_by_role("link", name="Routes", exact=True).click()
    row = page.locator("tr", has_text=served.payments)
    assert "Rejects" in row.inner_text() and served.dead in row.inner_text()
    assert page.locator("td", has_text="engine_reports").count() == 1  # declared by the plugin


def test_a_partition_is_paused_and_resumed_from_its_row_with_the_token(
        bootstrap: str, served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    produce(bootstrap, served.topic, [b"ok"], partition=1)
    page.goto(served.url + "/groups")
    rows = page.locator("section.group tbody tr", has_text=served.topic)
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    row = rows.nth(1)  # partition 1 (rows sorted by topic, then partition)
    expect(row.locator("td").nth(1)).to_have_text("1")
    status = page.locator("#command-status")
    row.get_by_role("button", name="Pause").click()
    expect(status).to_contain_text("401", timeout=WAIT_MS)  # no token typed yet
    page.locator("#token").fill(TOKEN)
    row.get_by_role("button", name="Pause").click()
    expect(status).to_contain_text(f"202: pause of {served.topic}/1 sent to", timeout=WAIT_MS)
    expect(row.locator("td").nth(5)).to_have_text("yes (until resumed)", timeout=WAIT_MS)
    messages = row.locator("td").nth(7)
    before = messages.inner_text()
    row.get_by_role("button", name="Resume").click()
    expect(status).to_contain_text(f"202: resume of {served.topic}/1 sent to", timeout=WAIT_MS)
    expect(row.locator("td").nth(5)).to_have_text("no", timeout=WAIT_MS)
    produce(bootstrap, served.topic, [b"ok"], partition=1)
    expect(messages).not_to_have_text(before, timeout=WAIT_MS)  # it flows again


def test_a_command_is_refused_without_the_token_and_obeyed_with_it(
        served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(served.url + "/")
    page.get_by_role("link", name="Processes", exact=True).click()
    row = process_row(page, served).first
    expect(row).to_contain_text("running", timeout=WAIT_MS)
    status = page.locator("#command-status")
    row.get_by_role("button", name="Quiet").click()
    expect(status).to_contain_text("401", timeout=WAIT_MS)
    page.locator("#token").fill("wrong")
    row.get_by_role("button", name="Quiet").click()
    expect(status).to_contain_text("403", timeout=WAIT_MS)
    assert served.worker.state == "running"
    page.locator("#token").fill(TOKEN)
    row.get_by_role("button", name="Quiet").click()
    expect(status).to_contain_text("202: quiet sent to", timeout=WAIT_MS)
    wait_until(lambda: served.worker.state == "quiet", message="the worker to quiet")
    expect(row).to_contain_text("quiet", timeout=WAIT_MS)  # and the page says so, live
