"""The web plugin's records and the dashboard's state and pages, without a broker."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from engine import App, Consumer, Messages, PluginError
from engine.cli.main import parser
from engine.testing import Harness
from engine.web.codec import ERRORS_TOPIC, REPORTS_TOPIC, RecordError, decode, encode
from engine.web.state import State
from engine_plugins.web import WebPlugin
from engine_plugins.web import report as reports


class Orders(Consumer):
    """Fails on ``bad`` (always), takes the rest."""

    def consume(self, messages: Messages) -> None:
        for message in messages:
            if message.payload == "bad":
                raise ValueError("bad <b>order</b>")
            self.mark_as_consumed(message)


def built(plugin: WebPlugin, **limits: Any) -> dict[str, Any]:
    return reports.build(plugin.tracker, {"id": "p", "host": "h", "pid": 1},
                         {"jobs_queued": 0, "workers_busy": 0, "async_jobs": 0}, 1000.0,
                         max_partitions=limits.get("max_partitions", 200),
                         max_jobs=limits.get("max_jobs", 50))


def test_a_record_round_trips_compressed_with_its_schema() -> None:
    data = encode("report", {"process": {"id": "p"}})
    assert decode(data) == {"schema": 1, "kind": "report", "process": {"id": "p"}}
    assert data[:1] == b"\x78"  # zlib's header: not plain JSON on the wire


@pytest.mark.parametrize(("data", "reason"), [
    (zlib.compress(b'{"schema": 2, "kind": "report"}'), "schema 2"),
    (b'{"schema": 1}', "not a zlib-compressed JSON record"),
    (zlib.compress(b"[1]"), "not list"),
    (b"", "an empty record"),
])
def test_a_record_of_another_schema_or_shape_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        decode(data)


def test_a_record_that_inflates_beyond_the_limit_is_refused() -> None:
    padding = b"x" * 2**25  # 32 MiB of JSON in a record of about 32 KiB
    bomb = zlib.compress(b'{"schema": 1, "kind": "report", "pad": "' + padding + b'"}', 9)
    assert len(bomb) < 2**16  # what a topic carries easily
    with pytest.raises(RecordError, match="bytes once decompressed"):
        decode(bomb)


def test_the_plugin_declares_its_topics_for_engine_topics() -> None:
    app = App(kafka={"bootstrap.servers": "127.0.0.1:9"}, client_id="shop")
    app.declare_topic(REPORTS_TOPIC, config={"partitions": 3})  # the app's own wins
    app.use(WebPlugin())
    declared = {topic.name: topic for topic in app.declared_topics()}
    assert declared[REPORTS_TOPIC].config.partitions == 3
    assert declared[ERRORS_TOPIC].config.partitions == 1


def test_a_bad_option_is_named() -> None:
    with pytest.raises(PluginError, match="interval must be a number > 0"):
        WebPlugin(interval=0)


def test_the_tracker_follows_batches_retries_and_errors_through_real_events() -> None:
    app = App(kafka={"bootstrap.servers": "127.0.0.1:9"}, client_id="shop", pause_timeout=0.1)
    app.topic("orders", Orders)
    plugin = WebPlugin(error_backlog=2, traceback_limit=300)
    app.use(plugin)
    with Harness(app, partitions={"orders": 2}) as kafka:
        for number in range(5):
            kafka.produce("orders", {"n": number}, partition=number % 2)
        kafka.run()
        kafka.produce("orders", "bad", partition=0)
        for _ in range(3):
            kafka.poll()
            kafka.clock.advance(60)
    report = built(plugin)
    rows = {row["partition"]: row for row in report["partitions"]}
    assert (rows[0]["messages"], rows[1]["messages"]) == (3, 2)
    assert (rows[1]["last_offset"], rows[1]["lag"], rows[1]["high"]) == (1, 0, 2)
    assert "lag_read" not in rows[1]  # the tracker's own bookkeeping stays home
    assert rows[0]["attempt"] >= 2 and rows[0]["last_error"] == "ValueError: bad <b>order</b>"
    assert rows[0]["paused"] and rows[0]["pause_reason"] == f"retry, attempt {rows[0]['attempt']}"
    assert report["counters"]["messages"] == 5 and report["counters"]["retries"] >= 2
    errors = list(plugin.tracker.errors)
    assert len(errors) == 2 and report["counters"]["errors_dropped"] >= 1  # bounded backlog
    assert errors[-1]["type"] == "consumer.consume.error"
    assert errors[-1]["context"] == {"topic": "orders", "partition": 0, "offset": 3}
    assert errors[-1]["traceback"].startswith("...\n")  # the end of a long traceback is kept
    assert errors[-1]["traceback"].rstrip().endswith("ValueError: bad <b>order</b>")


def test_partitions_beyond_the_limit_are_summarised_most_lagging_first() -> None:
    plugin = WebPlugin()
    for partition in range(5):
        row = plugin.tracker._partition("g", "t", partition)
        row["lag"], row["messages"] = partition * 10, 1
    report = built(plugin, max_partitions=2)
    assert [row["partition"] for row in report["partitions"]] == [4, 3]
    assert report["partitions_hidden"] == {"count": 3, "lag": 30, "messages": 3, "paused": 0}


def report(process: str, at: float, **body: Any) -> dict[str, Any]:
    return {"schema": 1, "kind": "report",
            "process": {"id": process, "host": "h", "pid": int(process[1:]), "state": "running",
                        "reported_at": at, "interval": 1.0}, "counters": body.pop("counters", {}),
            **body}


def test_the_state_keeps_each_process_last_report_and_marks_the_silent() -> None:
    now = [1000.0]
    state = State(clock=lambda: now[0], forget_after=60)
    state.apply(report("p1", 990.0, counters={"messages": 1}))
    state.apply(report("p1", 999.5, counters={"messages": 7}))
    state.apply(report("p2", 995.0, counters={"messages": 3}))
    state.apply(report("p3", 900.0))  # older than forget_after
    state.apply({"kind": "mystery"})
    overview = state.overview()
    assert overview["processes_count"] == 2 and overview["totals"]["messages"] == 10
    assert {row["id"]: row["silent"] for row in overview["processes"]} == {"p1": False,
                                                                             "p2": True}
    assert overview["unreadable"] == 1


def test_the_state_gathers_partitions_by_group_over_processes() -> None:
    state = State(clock=lambda: 1000.0)
    row = {"consumer_group": "g", "topic": "t", "lag": 4, "committed": 1, "high": 5,
           "paused": False, "attempt": 0, "messages": 1}
    state.apply(report("p1", 1000.0, partitions=[{**row, "partition": 1}],
                       partitions_hidden={"count": 2, "lag": 9, "messages": 0, "paused": 1}))
    state.apply(report("p2", 1000.0, partitions=[{**row, "partition": 0}]))
    groups = state.groups()
    assert [r["partition"] for r in groups["g"]] == [0, 1]
    assert [r["pid"] for r in groups["g"]] == [2, 1]
    assert groups["(more partitions, summarised)"][0]["lag"] == 9
    assert state.overview()["lag"] == 4 + 4 + 9


class Client:
    """GETs on the dashboard's ASGI app in memory (httpx's ASGI transport, no server)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.request("GET", path, headers=headers)

    def request(self, method: str, path: str, **options: Any) -> Any:
        import httpx

        async def fetch() -> Any:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, path, **options)

        return asyncio.run(fetch())


def filled() -> State:
    state = State(clock=lambda: 1000.0)
    state.apply(report("p7", 1000.0, counters={"messages": 123456}))
    state.apply({"schema": 1, "kind": "error", "type": "consumer.consume.error",
                 "error_class": "ValueError", "message": "<script>alert(1)</script>",
                 "traceback": "Traceback ...\n  raise ValueError('<i>')\n", "host": "h",
                 "pid": 7, "context": {"topic": "<t>"}})
    return state


@pytest.fixture
def client() -> Client:
    from engine.web.dashboard import dashboard

    return Client(dashboard(filled()))


def test_pages_escape_every_payload(client: Client) -> None:
    body = client.get("/errors").text
    assert "<script>alert(1)</script>" not in body and "<i>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;t&gt;" in body


def test_counts_are_plain_numbers_with_a_short_form_beside(client: Client) -> None:
    body = client.get("/").text
    assert '<td id="total-messages">123456 <small>123.5k</small></td>' in body


def test_a_live_request_gets_the_main_content_only(client: Client) -> None:
    full, live = client.get("/jobs").text, client.get("/jobs", headers={"X-Live": "1"}).text
    assert full.startswith("<!doctype html>") and "No job is running." in full
    assert "<html" not in live and "No job is running." in live
    assert client.get("/static/live.js").status_code == 200


def test_every_section_is_linked_from_the_root_by_its_name(client: Client) -> None:
    body = client.get("/").text
    for path, name in (("/processes", "Processes"), ("/groups", "Consumer groups"),
                       ("/jobs", "Jobs"), ("/errors", "Errors")):
        assert f'<a href="{path}">{name}</a>' in body
        assert client.get(path).status_code == 200


def test_engine_web_binds_this_machine_only_by_default() -> None:
    args = parser().parse_args(["web", "shop:app"])
    assert (args.host, args.port, args.token, args.browse) == ("127.0.0.1", 9396, None, True)
    assert parser().parse_args(["web", "shop:app", "--no-browse"]).browse is False


class Sent(list[tuple[Any, ...]]):
    """The commands a dashboard sent: (process, action), and a partition command's target."""

    def __call__(self, process: str, action: str, target: Any = None) -> None:
        self.append((process, action) if target is None else (process, action, target))


def test_a_read_only_dashboard_refuses_commands_and_shows_no_buttons(client: Client) -> None:
    answer = client.request("POST", "/processes/p7/stop", headers={"X-Engine-Token": "x"})
    assert answer.status_code == 403 and "read only" in answer.text
    assert "<button" not in client.get("/processes").text


@pytest.mark.parametrize(("headers", "content", "status"), [
    ({}, "", 401),
    ({"X-Engine-Token": "nope"}, "", 403),
    ({"Authorization": "Bearer nope"}, "", 403),
    ({"Content-Type": "application/x-www-form-urlencoded"}, "token=nope", 403),
])
def test_a_command_without_the_token_is_refused(headers: dict[str, str], content: str,
                                                status: int) -> None:
    from engine.web.dashboard import dashboard

    sent = Sent()
    client = Client(dashboard(filled(), token="s3cret", send=sent))
    answer = client.request("POST", "/processes/p7/stop", headers=headers, content=content)
    assert answer.status_code == status and sent == []


@pytest.mark.parametrize(("headers", "content"), [
    ({"X-Engine-Token": "s3cret"}, ""),
    ({"Authorization": "Bearer s3cret"}, ""),
    ({"Content-Type": "application/x-www-form-urlencoded"}, "token=s3cret"),
])
def test_a_command_with_the_token_is_sent_to_its_process(headers: dict[str, str],
                                                         content: str) -> None:
    from engine.web.dashboard import dashboard

    sent = Sent()
    client = Client(dashboard(filled(), token="s3cret", send=sent))
    answer = client.request("POST", "/processes/p7/quiet", headers=headers, content=content)
    assert (answer.status_code, answer.text) == (202, "quiet sent to h pid 7")
    assert sent == [("p7", "quiet")]
    assert '<form class="command" method="post" action="/processes/p7/stop">' in client.get(
        "/processes").text
    for path, status in (("/processes/p7/reboot", 404), ("/processes/p9/stop", 404)):
        assert client.request("POST", path, headers={"X-Engine-Token": "s3cret"}
                              ).status_code == status
    assert sent == [("p7", "quiet")]


def test_a_process_obeys_a_command_for_it() -> None:
    import threading

    from engine.web.codec import encode
    from engine_plugins.web.commands import Commands

    done = threading.Event()
    calls: list[str] = []

    class Target:
        def quiet(self) -> None:
            calls.append("quiet")
            done.set()

        def stop(self) -> None:
            calls.append("stop")
            done.set()

    commands = Commands(Target(), "p7", lambda: "running")  # type: ignore[arg-type]
    commands.obey(encode("report", {"action": "stop"}))  # not a command: ignored
    commands.obey(b"garbage")
    commands.obey(encode("command", {"action": "quiet", "process": "p7"}))
    assert done.wait(30)
    assert calls == ["quiet"]


def test_a_partition_command_with_the_token_is_sent_with_its_partition() -> None:
    from engine.web.dashboard import dashboard

    state = State(clock=lambda: 1000.0)
    row = {"consumer_group": "g", "topic": "orders", "partition": 3, "lag": 0, "paused": False,
           "attempt": 0, "messages": 1}
    state.apply(report("p7", 1000.0, partitions=[row]))
    sent = Sent()
    client = Client(dashboard(state, token="s3cret", send=sent))
    page = client.get("/groups").text
    assert ('<form class="command" method="post" action="/processes/p7/partitions/orders/3/'
            'pause"><button type="submit">Pause</button></form>') in page
    path = "/processes/p7/partitions/orders/3/pause"
    assert client.request("POST", path).status_code == 401 and sent == []
    answer = client.request("POST", path, headers={"X-Engine-Token": "s3cret"})
    assert (answer.status_code, answer.text) == (202, "pause of orders/3 sent to h pid 7")
    assert sent == [("p7", "pause", {"topic": "orders", "partition": 3})]
    for wrong in ("/processes/p7/partitions/orders/3/stop", "/processes/p7/quiet/x"):
        assert client.request("POST", wrong, headers={"X-Engine-Token": "s3cret"}
                              ).status_code == 404
    state.apply(report("p7", 1000.0, partitions=[{**row, "paused": True}]))
    assert "/partitions/orders/3/resume\"><button type=\"submit\">Resume</button>" in \
        client.get("/groups").text


def test_a_process_obeys_a_partition_command_and_ignores_one_naming_no_partition() -> None:
    import threading

    from engine.web.codec import encode
    from engine_plugins.web.commands import Commands

    made = threading.Semaphore(0)  # one release per call made (each on a thread of its own)
    calls: list[tuple[str, str, int]] = []

    class Target:
        def pause(self, topic: str, partition: int) -> None:
            calls.append(("pause", topic, partition))
            made.release()

        def resume(self, topic: str, partition: int) -> None:
            calls.append(("resume", topic, partition))
            made.release()

    commands = Commands(Target(), "p7", lambda: "running")  # type: ignore[arg-type]
    commands.obey(encode("command", {"action": "pause", "process": "p7"}))  # which partition?
    commands.obey(encode("command", {"action": "pause", "topic": "orders", "partition": 3}))
    commands.obey(encode("command", {"action": "resume", "topic": "orders", "partition": 3}))
    assert made.acquire(timeout=30) and made.acquire(timeout=30)
    assert not made.acquire(timeout=0)
    assert sorted(calls) == [("pause", "orders", 3), ("resume", "orders", 3)]


class FakeBrowser:
    """A cluster of one topic with two partitions; records which messages were read."""

    def __init__(self) -> None:
        self.read: list[tuple[Any, ...]] = []

    def topics(self) -> list[dict[str, Any]]:
        return [{"name": "orders", "partitions": 2}]

    def partitions(self, topic: str) -> list[dict[str, Any]]:
        return [{"partition": n, "low": 0, "high": 5, "messages": 5} for n in (0, 1)]

    def messages(self, *where: Any) -> list[dict[str, Any]]:
        self.read.append(where)
        return [{"partition": where[1], "offset": 4, "timestamp": None, "key": None,
                 "value": "<i>v</i>", "headers": [("source_topic", "orders")]}]


def explored(browse: bool) -> tuple[Client, FakeBrowser]:
    from engine.web.dashboard import dashboard
    from engine.web.explore import Explorer

    browser = FakeBrowser()
    explorer = Explorer(browser, dead_letter_topics=("orders.dlq",),  # type: ignore[arg-type]
                        browse_messages=browse)
    return Client(dashboard(filled(), explorer=explorer)), browser


def test_the_topics_explorer_reads_the_partition_and_offset_asked() -> None:
    client, browser = explored(browse=True)
    body = client.get("/topics/orders?partition=1&offset=3").text
    assert browser.read == [("orders", 1, 3, None)]
    assert "&lt;i&gt;v&lt;/i&gt;" in body
    assert "cannot read the query" in client.get("/topics/orders?offset=three").text
    assert "no partition 7" in client.get("/topics/orders?partition=7").text


def test_message_browsing_can_be_turned_off() -> None:
    client, browser = explored(browse=False)
    for path in ("/topics/orders?partition=0", "/dead-letters"):
        assert "Message browsing is turned off." in client.get(path).text
    assert browser.read == []
    assert client.request("POST", "/dead-letters/orders.dlq/0/4/resend",
                          headers={"X-Engine-Token": "x"}).status_code == 403


def test_the_history_adds_up_growth_over_processes_per_bucket() -> None:
    from engine.web.history import BUCKET, History

    history = History()
    history.add("a", 0.0, {"messages": 30, "errors": 1}, lag=5)
    history.add("b", 1.0, {"messages": 60}, lag=2)
    history.add("a", 2.0, {"messages": 90, "errors": 1}, lag=4)  # +60 in the same bucket
    history.add("a", BUCKET, {"messages": 15}, lag=1)  # restarted: 15 is all growth
    series = history.series(now=BUCKET + 1)
    assert series["throughput"] == [(0.0, 150 / BUCKET), (BUCKET, 15 / BUCKET)]
    assert series["errors"] == [(0.0, 60 / BUCKET), (BUCKET, 0.0)]
    assert series["lag"] == [(0.0, 6.0), (BUCKET, 1.0)]
    assert history.series(now=BUCKET + 3600.0)["lag"] == [(BUCKET, 1.0)]  # older ones go


def test_the_overview_draws_the_last_hour(client: Client) -> None:
    body = client.get("/").text
    for name in ("throughput", "lag", "errors"):
        assert f'<figure id="chart-{name}">' in body
    # one report at 1000 s: its bucket starts at 990 s, 10 s before the right edge (596 px
    # wide inside a 4 px margin), at the top (4 px down)
    assert '<polyline points="594.3,4.0" class="line">' in body
    assert '<circle cx="594.3" cy="4.0" r="3" class="end">' in body


def test_a_paused_partition_says_why_and_until_when() -> None:
    from engine.web.dashboard import dashboard

    state = State(clock=lambda: 1000.0)
    row = {"consumer_group": "g", "topic": "t", "partition": 0, "lag": 4, "committed": 1,
           "high": 5, "paused": True, "paused_until": 1001.0,
           "pause_reason": "retry, attempt 2", "attempt": 2, "messages": 1}
    state.apply(report("p1", 1000.0, partitions=[row]))
    body = Client(dashboard(state)).get("/groups").text
    assert "<td>yes (retry, attempt 2) until 1970-01-01 00:16:41 UTC</td>" in body


def test_every_template_and_static_file_ships_in_the_package() -> None:
    import configparser
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    setup = configparser.ConfigParser()
    setup.read(root / "setup.cfg")
    patterns = [p.strip() for p in setup["options.package_data"]["engine.web"].split(",")]
    folder = root / "engine" / "web"
    shipped = {path for pattern in patterns for path in folder.glob(pattern)}
    needed = {path for sub in ("templates", "static") for path in (folder / sub).rglob("*")
              if path.is_file()}
    assert needed and needed <= shipped, sorted(str(p) for p in needed - shipped)


def test_the_errors_page_shows_the_newest_fifty() -> None:
    from engine.web.dashboard import dashboard

    state = State(clock=lambda: 1000.0)
    for number in range(60):
        state.apply({"schema": 1, "kind": "error", "type": "t", "error_class": "E",
                     "message": f"error {number}.", "traceback": "", "host": "h", "pid": 1})
    body = Client(dashboard(state)).get("/errors").text
    assert "error 59." in body and "error 10." in body and "error 9." not in body
    assert "10 older errors are kept but not shown." in body


def test_pages_that_ask_the_brokers_refresh_slowly() -> None:
    client, _ = explored(browse=True)
    assert 'data-refresh="10.0"' in client.get("/topics").text
    assert 'data-refresh="2.0"' in client.get("/").text


@pytest.mark.parametrize("record", [
    report("p1", 1000.0, counters={"messages": "many"}),
    report("p1", 1000.0, partitions=[1]),
    report("p1", 1000.0, listeners=[{"assigned": 5}]),
    report("p1", 1000.0, jobs=[{"started_at": "dawn"}]),
    {"schema": 1, "kind": "report", "process": {"id": "p1", "pid": "one", "reported_at": 1.0}},
    {"schema": 1, "kind": "report", "process": {"id": "p1", "pid": 1, "reported_at": None}},
    {"schema": 1, "kind": "report", "process": {"id": "p1", "reported_at": float("inf")}},
    {"schema": 1, "kind": "error", "message": "m", "context": [1, 2]},
])
def test_a_record_the_pages_cannot_read_is_counted_and_breaks_no_page(
        record: dict[str, Any]) -> None:
    from engine.web.dashboard import dashboard

    state = filled()
    state.apply(record)  # anyone who can write to the topics can send this
    client = Client(dashboard(state))
    for path in ("/", "/processes", "/groups", "/jobs", "/errors"):
        assert client.get(path).status_code == 200, path
    assert state.overview()["unreadable"] == 1 and len(state.errors()) == 1
    assert [row["id"] for row in state.processes()] == ["p7"]


def test_a_time_no_calendar_holds_shows_empty() -> None:
    from engine.web.dashboard import clock

    assert clock(1e300) == "" and clock(float("nan")) == ""
    assert clock(0) == "1970-01-01 00:00:00 UTC"


def test_a_command_button_names_its_own_process_whatever_its_id() -> None:
    from engine.web.dashboard import dashboard

    state = filled()
    state.apply(report("p8", 1000.0))
    state.apply({**report("p9", 1000.0), "process": {
        "id": "p9/../p8", "host": "h", "pid": 9, "reported_at": 1000.0, "interval": 1.0}})
    body = Client(dashboard(state, token="s3cret", send=Sent())).get("/processes").text
    assert 'action="/processes/p9%2F..%2Fp8/quiet"' in body  # not /processes/p8 once resolved
    assert "p9/../p8/quiet" not in body


@pytest.fixture
def away_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time 5 hours behind UTC, for the test only."""
    import time

    monkeypatch.setenv("TZ", "EST+05")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("time", ["2026-01-31T12:00:00", "2026-01-31T12:00:00Z",
                                  "2026-01-31T13:00:00+01:00"])
@pytest.mark.usefixtures("away_from_utc")
def test_a_time_asked_without_an_offset_is_utc_as_the_pages_show(time: str) -> None:
    from datetime import datetime, timezone

    client, browser = explored(browse=True)
    assert client.get(f"/topics/orders?partition=0&time={time.replace('+', '%2B')}"
                      ).status_code == 200
    (_, _, _, at), = browser.read
    assert at.timestamp() == datetime(2026, 1, 31, 12, tzinfo=timezone.utc).timestamp()


def test_the_state_stays_bounded_when_no_page_is_asked_for() -> None:
    now = [0.0]
    state = State(clock=lambda: now[0], forget_after=600)
    for minute in range(600):  # ten hours of processes that each report once, then restart
        now[0] = minute * 60.0
        state.apply(report(f"p{minute}", now[0], counters={"messages": 1}))
    from engine.web.history import BUCKET, WINDOW

    # the last forget_after's processes, and the buckets of the last hour
    assert len(state._processes) <= 11 and len(state._history._last) <= 11
    assert len(state._history._buckets) <= WINDOW / BUCKET + 1


class ReportsProducer:
    """The reporter's own producer, recording what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.flushed: list[float] = []

    def produce(self, topic: str, value: bytes, **_: Any) -> None:
        from engine.web.codec import decode

        self.sent.append((topic, decode(value)))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        self.flushed.append(timeout)
        return 0


def stopped_reporter(then: Any = None) -> tuple[Any, ReportsProducer]:
    from types import SimpleNamespace

    from engine_plugins.web.reporter import Reporter, Settings

    def never(*_: Any, **__: Any) -> None:
        raise AssertionError("a report went through the app's producer")

    app = SimpleNamespace(settings=SimpleNamespace(client_id="shop"), produce=never,
                          statistics=lambda: {})
    plugin = WebPlugin()
    plugin.tracker.app_state = "stopped"
    reporter = Reporter(app, plugin.tracker,  # type: ignore[arg-type]
                        Settings(1.0, 10, 10, create_topics=False), "p", then=then)
    reporter._producer = producer = ReportsProducer()
    return reporter, producer


def test_no_commands_reader_starts_for_an_app_that_stopped_meanwhile() -> None:
    started: list[str] = []
    reporter, _ = stopped_reporter(then=lambda: started.append("commands"))
    reporter._run()  # on this thread: it ends once the app stopped
    assert started == []


def test_reports_go_through_a_producer_of_their_own_and_the_last_says_stopped() -> None:
    # the app's producer would hold a stop up to shutdown_timeout with the brokers away
    reporter, producer = stopped_reporter()
    reporter._run()
    assert [topic for topic, _ in producer.sent] == ["engine_reports"]
    assert producer.sent[0][1]["process"]["state"] == "stopped"
    assert producer.flushed == [2.0]  # bounded: the process ends soon after the app


def test_engine_web_on_this_machine_answers_only_requests_naming_it() -> None:
    from engine.cli.web import only_local
    from engine.web.dashboard import dashboard

    local = Client(only_local(dashboard(filled()), "127.0.0.1"))
    for host in ("127.0.0.1:9396", "localhost:9396"):
        assert local.get("/", headers={"Host": host}).status_code == 200
    # a site that re-pointed its name at 127.0.0.1 (DNS rebinding) cannot read the pages
    assert local.get("/errors", headers={"Host": "evil.example:9396"}).status_code == 400
    anywhere = Client(only_local(dashboard(filled()), "0.0.0.0"))
    assert anywhere.get("/", headers={"Host": "dashboard.example"}).status_code == 200


class DeadLetter:
    """A message of a dead-letter topic, as the client returns it."""

    def __init__(self, source: bytes) -> None:
        self._headers = [("source_topic", source), ("trace", b"t1")]

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers

    def value(self) -> bytes:
        return b"v"

    def key(self) -> bytes:
        return b"process-1"


@pytest.mark.parametrize(("source", "status", "sent"), [
    (b"payments", 202, [("payments", [("trace", b"t1")])]),
    (b"engine_commands", 409, []),  # a header may name any topic: only a route's goes
])
def test_a_dead_letter_goes_back_only_to_a_topic_that_dead_letters_there(
        source: bytes, status: int, sent: list[Any]) -> None:
    from functools import partial

    from engine import DeadLetterQueue
    from engine.web.dashboard import dashboard
    from engine.web.explore import explorer_of
    from engine.web.feed import Feed

    app = App(kafka={"bootstrap.servers": "127.0.0.1:9"}, client_id="shop")
    app.topic("payments", Orders, dead_letter_queue=DeadLetterQueue("payments.dlq"))
    feed, produced = Feed(app, State()), list[Any]()
    feed.app.produce_sync = lambda topic, value, **options: produced.append(  # type: ignore
        (topic, options["headers"]))
    browser = FakeBrowser()
    browser.message = lambda *where: DeadLetter(source)  # type: ignore[attr-defined]
    explorer = explorer_of(app, browser, resend=partial(feed.resend, browser))  # type: ignore
    client = Client(dashboard(State(), token="s3cret", send=Sent(), explorer=explorer))
    answer = client.request("POST", "/dead-letters/payments.dlq/0/4/resend",
                            headers={"X-Engine-Token": "s3cret"})
    assert answer.status_code == status, answer.text
    assert produced == sent
