"""Shared fixtures: a minimal valid app and consumer classes; the hypothesis profiles."""

from __future__ import annotations

import pytest
from hypothesis import settings

from engine import App, Consumer, Messages

BOOTSTRAP = {"bootstrap.servers": "127.0.0.1:9"}

# CI's re-runs on the oldest and newest Pythons (`pytest --hypothesis-profile ci-compat`) check
# that the code works there, not the search again: a fifth of the default's 100 examples, the
# same ones on every run. The stateful machines scale their budgets with the profile's; tests
# that must find a planted bug set their own max_examples, which no profile overrides.
settings.register_profile("ci-compat", max_examples=20, derandomize=True, database=None)


class NoopConsumer(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


class OtherConsumer(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


@pytest.fixture
def app() -> App:
    return App(kafka=BOOTSTRAP)
