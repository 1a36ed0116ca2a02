"""Shared fixtures: a minimal valid app and consumer classes."""

from __future__ import annotations

import pytest

from engine import App, Consumer, Messages

BOOTSTRAP = {"bootstrap.servers": "127.0.0.1:9"}


class NoopConsumer(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


class OtherConsumer(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


@pytest.fixture
def app() -> App:
    return App(kafka=BOOTSTRAP)
