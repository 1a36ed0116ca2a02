"""``ConsumerMachine``: a hypothesis state machine users subclass to prove their consumers.

Over 250 lines on purpose: hypothesis reads a machine's rules and invariants from one class
(the fault and group rules are mixins beside it), and users subclass that class.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from functools import partial
from types import FunctionType
from typing import TYPE_CHECKING, Any, ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.testing.clock import EPOCH, Epoch, wall_seconds
from engine.testing.fault_rules import FaultRules, check_faults
from engine.testing.group_rules import GroupRules
from engine.testing.harness import Harness
from engine.testing.schedule import Line, Step, keeps_fresh, refreshes, render, step
from engine.testing.shrinking import BUDGET, can_give_up, give_up, is_final
from engine.testing.strategies import json_values

if TYPE_CHECKING:
    from engine.app import App

_REQUIRED = {
    "app": "app = build_app  (an App, or a function returning a fresh App for each example)",
    "topic": 'topic = "orders"  (the routed topic the machine produces to)',
}

# how a machine ends each example: the steps, as the printed test repeats them
_ENDINGS = {"idle": ("kafka.run()",), "stop": ("kafka.run()", "kafka.stop()")}


class ScheduleError(AssertionError):
    """A check failed; the message ends with the schedule that led there, as a test to paste."""


class ConsumerMachine(FaultRules, GroupRules, RuleBasedStateMachine):
    """Random schedules of produce, poll, run, rebalance, clock, restart, fault and group steps.

    Subclass it with ``app`` and ``topic`` (and optionally ``partitions``, ``values``,
    ``keys``, ``timestamps``, ``epoch``, ``end``, ``faults``, ``revokes``, ``max_members``,
    ``check(kafka)``, ``check_at_end(kafka)``, ``exactly_once``); ``TestX =
    XMachine.TestCase`` makes the test. ``exactly_once`` names output topics checked after
    every step for a ``history.duplicated_output`` (``history.check_output``).
    Built-in invariants: no ``reordered()`` and no ``committed_beyond_processed()`` after
    every step, nothing ``lost()`` at the end. ``end`` is how an example ends: ``"idle"`` (run
    to idle) or ``"stop"`` (run to idle, then the graceful ``stop()``: shutdown hooks, final
    commit) before the final checks. ``epoch`` is the harness' wall time at the start
    (``engine.testing.EPOCH``); ``timestamps`` draws each produced message's timestamp (None:
    the virtual wall time when produced; or a strategy of aware datetimes, or of offsets from
    ``epoch`` as ``timedelta`` or seconds). ``faults`` names the faults drawn (all of
    ``engine.testing.fault_rules.FAULTS`` by default): "crash" (SIGKILL now or at a take),
    "crash_at_produce", "crash_at_commit", "fail_produce", "lose" (a partition lost unheard,
    given back later and before the end). The group's steps (``GroupRules``) are partial and
    lost revokes, and members joining, leaving and dying. On a topic with virtual partitions
    each poll first draws the order a batch's jobs run in (``Harness.interleave``).

    A failure is one ``ScheduleError``; its schedule goes to stderr as soon as it is found,
    and shrinking runs at most ``shrink_budget`` (200) examples after it. A user rule
    ``record``s its step so the printed test repeats it.
    """

    app: ClassVar[Any] = None
    topic: ClassVar[str | None] = None
    partitions: ClassVar[int] = 1
    values: ClassVar[st.SearchStrategy[Any]] = json_values()
    keys: ClassVar[st.SearchStrategy[Any]] = st.none() | st.sampled_from(["a", "b", "c"])
    max_crash_after: ClassVar[int] = 5
    shrink_budget: ClassVar[int] = 200
    end: ClassVar[str] = "idle"
    epoch: ClassVar[Epoch] = EPOCH
    timestamps: ClassVar[st.SearchStrategy[Any] | None] = None
    exactly_once: ClassVar[tuple[str, ...]] = ()
    """Output topics that must hold each output once (``history.check_output``, every step)."""

    def __init_subclass__(cls, **options: Any) -> None:
        """Check the subclass names what the machine needs (at class creation)."""
        super().__init_subclass__(**options)
        missing = [hint for name, hint in _REQUIRED.items() if getattr(cls, name, None) is None]
        if missing:
            raise TypeError(f"{cls.__name__} needs: " + "; ".join(missing))
        check_faults(cls.__name__, cls.faults)
        if cls.end not in _ENDINGS:
            raise TypeError(f"{cls.__name__}.end must be one of {', '.join(map(repr, _ENDINGS))}"
                            f" (got {cls.end!r}): 'idle' runs to idle, 'stop' then stops")
        _check_time(cls)
        app = cls.__dict__.get("app")
        # a plain function must not become a method, nor a partial (Python 3.13 warns that it
        # will become a method descriptor)
        if isinstance(app, (FunctionType, partial)):
            type.__setattr__(cls, "app", staticmethod(app))
        # one bug seen by two checks is one failure; a user may still assign other settings
        test_case: Any = cls.TestCase
        test_case.settings = settings(test_case.settings, report_multiple_bugs=False)

    def __init__(self) -> None:
        """A fresh harness over a fresh app (when ``app`` is a factory)."""
        super().__init__()
        self._final = is_final()
        if (not BUDGET.begin(type(self), self.shrink_budget, final=self._final)
                and can_give_up()):
            give_up()
        self.kafka = Harness(self._fresh_app(),
                             partitions={self._machine_topic: self.partitions}, epoch=self.epoch)
        self.schedule: list[Step | Line] = []
        # no consumer has polled since the (re)start: a restart or a rebalance is a no-op
        self._fresh = True
        # a topic with virtual partitions: each poll draws the order its jobs run in
        self._interleaves = any(route.virtual_partitions is not None
                                for group in self.kafka.groups for route in group.topics
                                if route.name == self._machine_topic)
        self._interleave: int | None = None

    # -- user hooks ----------------------------------------------------------------------------

    def check(self, kafka: Harness) -> None:
        """The user's invariant, after every step (default: none)."""

    def check_at_end(self, kafka: Harness) -> None:
        """The user's final check, once the machine ended (``end``) (default: none)."""

    def record(self, source: str) -> None:
        """Record a step of your own rule as the line the printed test runs to repeat it.

        The printed test has ``machine`` (your machine, made outside hypothesis) and ``kafka``
        (its harness), e.g. ``self.record("machine.db.down()")`` in a rule that takes the
        database down. A failure that needed the step then replays when pasted.
        """
        self.schedule.append(Line(source))
        self._fresh = False  # the step may have touched the consumers

    def key_of(self, value: Any, key: Any) -> Any:
        """The key a produced value gets: the drawn ``key`` unless overridden.

        Override it to key by an entity's id, as producers do to keep one entity's messages
        in one partition, in order.
        """
        return key

    # -- rules ---------------------------------------------------------------------------------

    @rule(data=st.data())
    def produce(self, data: st.DataObject) -> None:
        """Produce a drawn value with a drawn key (and a drawn timestamp, with ``timestamps``)."""
        value = data.draw(self.values, label="value")
        # drawn through key_of, so hypothesis prints the key the schedule produces with
        key = data.draw(self.keys.map(partial(self.key_of, value)), label="key")
        timestamp = None
        if self.timestamps is not None:
            timestamp = data.draw(self.timestamps.map(self._stamp), label="timestamp")
        self._do(step("produce", self._machine_topic, value, key=key, timestamp=timestamp))

    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        """One poll of a drawn fetch size (so batch boundaries move).

        On a topic with virtual partitions, first the order their jobs run in: push order
        (None) or a seed (``Harness.interleave``), a step when it changes.
        """
        if self._interleaves:
            seed = data.draw(st.none() | st.integers(0, 255), label="interleave")
            if seed != self._interleave:
                self._interleave = seed
                self._do(step("interleave", seed))
        most = max(subscription_group.max_messages for subscription_group in self.kafka.groups)
        self._do(step("poll", data.draw(st.integers(1, most), label="limit")))

    @rule()
    def run(self) -> None:
        """Run to idle."""
        self._do(step("run"))

    @rule(data=st.data())
    @precondition(lambda machine: "crash" in machine.faults)
    def crash(self, data: st.DataObject) -> None:
        """SIGKILL now, or during the next consume after it took some messages."""
        after = data.draw(st.none() | st.integers(0, self.max_crash_after), label="after")
        self._do(step("crash", after=after))

    @rule()
    def rebalance(self) -> None:
        """Every partition revoked and assigned again (skipped while the consumers are fresh)."""
        if not self._fresh:
            self._do(step("rebalance"))

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 30.0]))
    def advance(self, seconds: float) -> None:
        """Let virtual time pass (pauses end, auto-commit fires)."""
        self._do(step("advance", seconds))

    @rule()
    def restart(self) -> None:
        """A graceful stop, then a start with fresh consumers (skipped while they are fresh)."""
        if not self._fresh:
            self._do(step("restart"))

    @invariant()
    def history_holds(self) -> None:
        """No reorder and no commit beyond what was processed; then the user's ``check``."""
        self._checked(lambda: self.kafka.history.check(include_lost=False),
                      "kafka.history.check(include_lost=False)")
        for topic in self.exactly_once:
            self._checked(lambda topic=topic: self.kafka.history.check_output(topic),
                          f"kafka.history.check_output({topic!r})")
        self._checked(lambda: self.check(self.kafka), "machine.check(kafka)")

    def teardown(self) -> None:
        """End (``end``); check the history, nothing lost, the user's ``check_at_end``; close."""
        try:
            # a step already failed: that is the error to see
            if sys.exc_info()[1] is None:
                ending = self._finish()
                self._checked(self.kafka.history.check, *ending, "kafka.history.check()")
                self._checked(lambda: self.check_at_end(self.kafka), *ending,
                              "machine.check_at_end(kafka)")
        finally:
            self.kafka.close()

    def _finish(self) -> tuple[str, ...]:
        """Give back, settle, run to idle, with ``end = "stop"`` stop; the steps, as printed.

        Lost partitions come back (printed steps), then what a revoke left unassigned is
        settled; each step is checked.
        """
        self.give_back()
        ending = [*(["kafka.settle()"] if self.needs_settling() else []), *_ENDINGS[self.end]]
        calls = {"kafka.settle()": self.kafka.settle, "kafka.run()": self.kafka.run,
                 "kafka.stop()": self.kafka.stop, "kafka.start()": self.kafka.start}
        done = 0
        while done < len(ending):
            line, crashes = ending[done], self.kafka.history.crashes
            done += 1
            self._checked(calls[line], *ending[:done])
            if line == "kafka.stop()" and self.kafka.history.crashes > crashes:
                # died while stopping (a crash armed at a commit): what it left uncommitted
                # comes again once the app is back, as it would after a restart
                ending += ["kafka.start()", "kafka.run()", "kafka.stop()"]
        return tuple(ending)

    # -- internals -----------------------------------------------------------------------------

    def _fresh_app(self) -> App:
        from engine.app import App

        app = self.app
        return app if isinstance(app, App) else app()

    def _stamp(self, drawn: Any) -> datetime:
        """A drawn timestamp as the aware datetime the message gets."""
        if isinstance(drawn, datetime) and drawn.utcoffset() is not None:
            return drawn
        if isinstance(drawn, timedelta):
            drawn = drawn.total_seconds()
        if isinstance(drawn, (int, float)) and not isinstance(drawn, bool):
            return datetime.fromtimestamp(wall_seconds(self.epoch) + drawn, tz=timezone.utc)
        raise TypeError(f"{type(self).__name__}.timestamps drew {drawn!r}: draw timezone-aware"
                        " datetimes, or offsets from the epoch (timedelta or seconds)")

    def _do(self, each: Step) -> None:
        self.schedule.append(each)
        self._fresh = refreshes(each) or (self._fresh and keeps_fresh(each))
        self._checked(lambda: each.apply(self.kafka))

    def _checked(self, call: Any, *end: str) -> None:
        try:
            call()
        except Exception as error:  # noqa: BLE001 - any error of a step is the failure
            failure = error
        else:
            return
        # raised outside the except block: with no __context__, hypothesis sees one origin for
        # every failed check and reports one failure, not a group of "distinct" ones
        raise self._failure(failure, end) from failure

    def _failure(self, error: Exception, end: tuple[str, ...]) -> ScheduleError:
        failure = ScheduleError(self._explain(error, end))
        if not self._final and BUDGET.failed(type(self)):
            sys.stderr.write(f"{type(self).__name__}: first failure, shrinking it (at most "
                             f"{self.shrink_budget} examples):\n{failure}\n")
        return failure

    def _explain(self, error: BaseException, end: tuple[str, ...]) -> str:
        test = render(self.schedule, type(self).__name__, end=end)
        return (f"{type(error).__name__}: {error}\n\n"
                f"The schedule that led here, as a test to paste:\n\n{test}\n")


def _check_time(machine: type[ConsumerMachine]) -> None:
    """A machine's ``epoch`` and ``timestamps`` are usable (else a TypeError naming them)."""
    try:
        wall_seconds(machine.epoch)
    except ValueError as error:
        raise TypeError(f"{machine.__name__}.epoch: {error}") from None
    drawn = machine.timestamps
    if drawn is not None and not isinstance(drawn, st.SearchStrategy):
        raise TypeError(f"{machine.__name__}.timestamps must be None (the virtual wall time) or"
                        f" a hypothesis strategy of datetimes or offsets (got {drawn!r})")
