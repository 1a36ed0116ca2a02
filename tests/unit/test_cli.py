from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.lifecycle import Lifecycle

APP = """
from engine import App, Consumer

class C(Consumer):
    def consume(self, messages):
        pass

app = App(kafka={{"bootstrap.servers": "127.0.0.1:9", "sasl.password": "hunter2"}}{extra})
app.topic("orders", C)
app.consumer_group("analytics").topic("clicks", C)
"""


def write(tmp_path: Path, name: str = "myapp.py", extra: str = "", body: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body if body is not None else APP.format(extra=extra)))
    return path


def test_info_shows_routes_masked_settings_and_the_lifecycle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(write(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "engine/default  (consumer group 'engine')" in out
    assert "topic orders -> C" in out
    assert "analytics/default" in out
    assert "sasl.password = ***" in out and "hunter2" not in out
    assert "fetch.queue.backoff.ms = 10  (engine default)" in out
    assert f"lifecycle (mermaid):\n{Lifecycle.diagram()}\n" in out  # transitions draws it
    assert "  running --> stopping: stop\n" in out
    assert "declared topics (engine topics):\n  none" in out
    for setting in ("max_async_jobs = 1000", "loop_stall_threshold = 0.5",
                    "assignment_timeout = 60.0", "node_report_timeout = 60.0",
                    "connections = None"):
        assert f"  {setting}\n" in out  # every setting, not a chosen few
    assert " initial_offset=earliest connections=1\n" in out  # the count each group runs


def test_info_says_how_each_route_runs(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    body = """
        from engine import App, Consumer, DeadLetterQueue, VirtualPartitions

        class Plain(Consumer):
            def consume(self, messages):
                pass

        class Awaiting(Consumer):
            async def consume(self, messages):
                pass

        app = App(kafka={"bootstrap.servers": "127.0.0.1:9"})
        app.topic("orders", Plain)
        app.topic("clicks", Awaiting, virtual_partitions=VirtualPartitions(),
                  dead_letter_queue=DeadLetterQueue("clicks.dlq"))
    """
    assert main(["info", str(write(tmp_path, body=body))]) == 0
    out = capsys.readouterr().out
    assert "    topic orders -> Plain\n" in out
    assert ("    topic clicks -> Awaiting  [async, virtual partitions (consistent),"
            " dead letters to clicks.dlq]\n") in out


def test_info_lists_the_declared_topics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = APP.format(extra="") + 'app.declare_topic("audit", config={"partitions": 2})\n'
    assert main(["info", str(write(tmp_path, body=body))]) == 0
    assert ("  audit: 2 partitions, default replication factor  (app.declare_topic)"
            in capsys.readouterr().out)


def test_info_by_module_name_and_attribute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "svc_module_a.py")
    monkeypatch.chdir(tmp_path)
    assert main(["info", "svc_module_a"]) == 0
    assert main(["info", "svc_module_a:app", "--consumer-group", "analytics"]) == 0
    out = capsys.readouterr().out
    assert out.count("analytics/default") == 2


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_zz", "engine: no module named 'no_such_module_zz'"),
        ("missing/file.py", "engine: no such file: 'missing/file.py'"),
    ],
)
def test_bad_target_is_one_clear_message_and_exit_1(
    target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", target]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert "hint: TARGET is module:attribute" in err


def test_missing_attribute_names_the_apps_it_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "svc_module_b.py")
    monkeypatch.chdir(tmp_path)
    assert main(["info", "svc_module_b:application"]) == 1
    assert "has no attribute 'application'; it has app (use svc_module_b:app)" in (
        capsys.readouterr().err
    )


def test_target_that_is_not_an_app(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, body="app = 3\n")
    assert main(["info", f"{path}:app"]) == 1
    assert "is a int, not an engine.App" in capsys.readouterr().err


def test_import_error_in_user_code_shows_the_users_frames_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, body="def helper():\n    raise RuntimeError('db down')\n\nhelper()\n")
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert str(path) in err and "RuntimeError: db down" in err
    assert "engine/cli" not in err and "importlib" not in err
    assert err.rstrip().endswith("failed (traceback above)")


def test_config_error_at_start_lists_problems_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, extra=", concurrency=0")
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert "concurrency must be an integer >= 1 (got 0)" in err
    assert "hint: fix the App(...) settings" in err


def test_filter_that_matches_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(write(tmp_path)), "--topic", "nope"]) == 1
    assert "no topic named 'nope' (known: clicks, orders)" in capsys.readouterr().err


def test_topics_without_a_declared_topic_has_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["topics", "plan", str(write(tmp_path))]) == 0
    assert capsys.readouterr().out.startswith("nothing to do: no declared topics")


def test_topics_with_no_broker_answering_is_one_line_with_a_hint_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = APP.format(extra="") + 'app.declare_topic("audit", config={"partitions": 2})\n'
    target = write(tmp_path, body=body)
    assert main(["topics", "migrate", str(target), "--timeout", "1"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("engine: no Kafka broker answered at 127.0.0.1:9 within 1s (")
    assert line.endswith("(hint: start a broker (engine broker) or fix bootstrap.servers in"
                         " the app's kafka settings)")


def test_topics_rejects_an_unknown_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["topics", "reset", "app.py"])
    assert caught.value.code == 1  # 2 would read as a forced stop
    assert "engine: argument ACTION: invalid choice: 'reset'" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["delete", "migrate"])
def test_topics_with_no_broker_prints_only_the_error_not_nothing_to_do(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = APP.format(extra="") + 'app.declare_topic("audit", config={"partitions": 2})\n'
    target = write(tmp_path, body=body)
    assert main(["topics", action, str(target), "--yes", "--timeout", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("engine: no Kafka broker answered at 127.0.0.1:9 within 1s (")


def test_topics_lag_with_no_broker_is_one_line_with_a_hint_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["topics", "lag", str(write(tmp_path)), "--timeout", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("engine: no Kafka broker answered at 127.0.0.1:9 within 1s (")
    assert line.endswith("(hint: start a broker (engine broker) or fix bootstrap.servers in"
                         " the app's kafka settings)")


@pytest.mark.parametrize(("command", "message"), [
    (["swarm", "APP", "--nodes", "0"], "argument --nodes: must be an integer >= 1 (got '0')"),
    (["swarm", "APP", "--nodes", "-2"], "argument --nodes: must be an integer >= 1 (got '-2')"),
    (["demo", "--messages", "-5"], "argument --messages: must be an integer >= 1 (got '-5')"),
    (["demo", "--messages", "0"], "argument --messages: must be an integer >= 1 (got '0')"),
    (["demo", "--partitions", "0"], "argument --partitions: must be an integer >= 1"),
    (["demo", "--concurrency", "-1"], "argument --concurrency: must be an integer >= 1"),
    (["demo", "--messages", "1e3"], "argument --messages: must be an integer (got '1e3')"),
    (["broker", "--port", "70000"], "argument --port: must be a TCP port from 1 to 65535"),
    (["broker", "--port", "-1"], "argument --port: must be a TCP port from 1 to 65535"),
    (["broker", "--topic", "orders:0"], "argument --topic: takes NAME or NAME:PARTITIONS"),
    (["topics", "plan", "APP", "--timeout", "0"], "argument --timeout: must be a number of"
     " seconds > 0 (got '0')"),
    (["topics", "plan", "APP", "--timeout", "-3"], "argument --timeout: must be a number"),
    (["topics", "lag", "APP", "--timeout", "nan"], "argument --timeout: must be a number"),
    (["topics", "plan", "APP", "--timeout", "inf"], "argument --timeout: must be a number"),
])
def test_a_numeric_option_out_of_range_is_one_engine_line_with_a_hint_and_exit_1(
    command: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import engine.cli.broker
    import engine.cli.demo

    def must_not_run(*args: object) -> int:
        raise AssertionError("the command ran")

    monkeypatch.setattr(engine.cli.demo, "run_demo", must_not_run)
    monkeypatch.setattr(engine.cli.broker, "run_broker", must_not_run)
    target = str(write(tmp_path))
    with pytest.raises(SystemExit) as caught:
        main([target if word == "APP" else word for word in command])
    assert caught.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    first, hint = captured.err.splitlines()
    assert first.startswith(f"engine: {message}")
    assert hint == f"hint: engine {command[0]} --help lists the options and what each takes"


def test_a_misspelt_librdkafka_setting_is_named_not_taken_for_a_missing_broker() -> None:
    from engine.connection.preflight import check_broker
    from engine.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        check_broker({"bootstrap.servers": "127.0.0.1:9", "sesion.timeout.ms": 6000}, 1)
    assert caught.value.problems == (
        'kafka: librdkafka refused the kafka settings: No such configuration property:'
        ' "sesion.timeout.ms" (did you mean \'session.timeout.ms\'?)',)


def test_a_misspelt_plugin_variable_gets_a_hint_about_options_not_entry_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGINE_PROMETHEUS_PROT", "9400")
    assert main(["server", str(write(tmp_path)), "--plugin", "prometheus"]) == 1
    err = capsys.readouterr().err
    assert "ENGINE_PROMETHEUS_PROT names no option (did you mean ENGINE_PROMETHEUS_PORT?)" in err
    assert "hint: options come as keywords or ENGINE_<PLUGIN>_<OPTION>" in err
    assert "entry-point" not in err


def test_an_unknown_option_is_named_with_where_the_options_are_and_no_prefix_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    target = str(write(tmp_path))
    for typo in ("--conections", "--migrat"):  # a prefix of --migrate is a typo too
        with pytest.raises(SystemExit) as caught:
            main(["server", target, typo])
        assert caught.value.code == 1
        first, hint = capsys.readouterr().err.splitlines()
        assert first == f"engine: unrecognized arguments: {typo}"
        assert hint == ("hint: engine --help lists the commands, and engine COMMAND --help"
                        " the options of each")
