"""Producer and commit faults: crash points, failed produces, refused commits.

Crash points at produce and commit calls, failed produces, and the refusals librdkafka
reports for a commit of a partition the group gave away.

One ``Faults`` per harness; the in-memory producer and clients ask it at each call. The
errors are librdkafka's own (codes and wording as a broker makes them, checked against one by
tests/integration/test_harness_faults_differential.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException

from engine.processing.death import ProcessDeath
from engine.testing.crash import CrashPlan
from engine.testing.errors import HarnessError

CRASH_POINTS = ("take", "produce", "commit")
"""Where ``crash(at=...)`` can kill the process."""


def produce_refused() -> KafkaError:
    """A broker's refusal of a write, as a delivery report carries it (not retried)."""
    return KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED,
                      "Broker: Topic authorization failed")


def produce_timed_out() -> KafkaError:
    """No acknowledgement within ``message.timeout.ms``, as a delivery report carries it."""
    return KafkaError(KafkaError._MSG_TIMED_OUT, "Local: Message timed out")


def commit_refused(sync: bool) -> KafkaError:
    """The coordinator's answer to a member it no longer knows (its session expired).

    A synchronous commit raises it as ``Commit failed: ...``; ``on_commit`` gets the bare one.
    """
    prefix = "Commit failed: " if sync else ""
    return KafkaError(KafkaError.UNKNOWN_MEMBER_ID, f"{prefix}Broker: Unknown member")


def refused_commit_error() -> KafkaException:
    """What a synchronous commit raises once the member is unknown."""
    return KafkaException(commit_refused(sync=True))


@dataclass
class _Failure:
    topic: str | None
    timeout: bool


class Faults:
    """Armed producer and commit faults: at most one crash point, and failures in order.

    ``produce_calls`` and ``commit_calls`` count the calls made so far (a fault at a call the
    app never makes could never fire); ``on_produce_failed`` is told of each produce call that
    fails or dies (the history's ``produce_failed``); ``on_death`` is told of a death before it
    is raised (the transaction coordinator's ``die``).
    """

    def __init__(self) -> None:
        self._crash_at: str | None = None
        self._crash_after = 0
        self._failures: list[_Failure] = []
        self.produce_calls = 0
        self.commit_calls = 0
        self.on_produce_failed: Callable[[], None] = lambda: None
        self.on_death: Callable[[], None] = lambda: None

    # -- arming (the harness) ------------------------------------------------------------------

    def arm_crash(self, plan: CrashPlan, after: int | None, at: str) -> bool:
        """Arm ``crash(after, at=at)``, replacing any crash armed before; True: die now.

        ``at="take"`` is ``plan``'s: now (None), or once the next consume job took ``after``
        messages. "produce" waits for a call of the app's producer (a consumer's ``produce``
        or ``produce_sync``, a dead-letter copy), "commit" for a commit the engine makes (a
        ``sync=True`` mark, ``commit_offsets``, a revocation's or the stop's; not the
        background auto-commit, librdkafka's own thread), after ``after`` (None: 0) of them
        succeeded; that call never reaches the log.
        """
        if at not in CRASH_POINTS:
            raise HarnessError(f"crash(at=...) takes one of {', '.join(map(repr, CRASH_POINTS))}"
                               f" (got {at!r})")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool)
                                  or after < 0):
            raise HarnessError(f"crash(after=...) takes an integer >= 0 or None (got {after!r})")
        plan.take()
        self._crash_at = None
        if at != "take":
            self._crash_at, self._crash_after = at, after or 0
        elif after is not None:
            plan.arm(after)
        return at == "take" and after is None

    @property
    def crash_armed(self) -> str | None:
        """The call a crash waits at ("produce", "commit"), or None."""
        return self._crash_at

    def fail_produce(self, times: int, topic: str | None, timeout: bool) -> None:
        """The next ``times`` produce calls (to ``topic``, or any) fail."""
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise HarnessError(f"fail_produce(times=...) takes an integer >= 1 (got {times!r})")
        self._failures += [_Failure(topic, timeout)] * times

    @property
    def failures_armed(self) -> int:
        """How many produce failures still wait."""
        return len(self._failures)

    # -- asking (the in-memory producer and clients) -------------------------------------------

    def producing(self, topic: str) -> KafkaError | None:
        """A produce call to ``topic``: dies here, or its delivery error (None: it succeeds).

        A failure is a broker's refusal (``TOPIC_AUTHORIZATION_FAILED``, not retried) or, armed
        with ``timeout``, ``_MSG_TIMED_OUT``; the engine's producer turns it into a
        ``ProduceError`` (``produce_sync``) or ``error.occurred`` type
        ``producer.delivery.error`` (an asynchronous ``produce``).
        """
        self.produce_calls += 1
        if self._crash_at == "produce" and self._crash_after == 0:
            self.on_produce_failed()
        self._maybe_die("produce")
        for index, failure in enumerate(self._failures):
            if failure.topic is None or failure.topic == topic:
                del self._failures[index]
                self.on_produce_failed()
                return produce_timed_out() if failure.timeout else produce_refused()
        self._succeeded("produce")
        return None

    def committing(self) -> None:
        """A commit call of the engine's: dies here when the crash waits for it."""
        self.commit_calls += 1
        self._maybe_die("commit")

    def committed(self) -> None:
        """That commit call got through (it counts towards ``after``)."""
        self._succeeded("commit")

    def _maybe_die(self, at: str) -> None:
        if self._crash_at == at and self._crash_after == 0:
            self._crash_at = None
            self.on_death()
            raise ProcessDeath(f"crash at a {at} call")

    def _succeeded(self, at: str) -> None:
        if self._crash_at == at:
            self._crash_after -= 1
