"""FastStream's "ack-first forwarder", restated: each message is copied to another topic.

The buggy variant acknowledges (marks with ``sync=True``, a commit) before it forwards with
``produce_sync``; a failed or killed forward then leaves a committed message that was never
forwarded. The correct one forwards first and marks after.
"""

from __future__ import annotations

from engine import App, Consumer, Messages

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}
SOURCE, TARGET = "events", "forwarded"


def forwarder_app(*, ack_first: bool) -> App:
    """An app forwarding ``SOURCE`` to ``TARGET``, acknowledging first when ``ack_first``."""

    class Forwarder(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                if ack_first:
                    self.mark_as_consumed(message, sync=True)
                    self.produce_sync(TARGET, message.payload, key=message.key)
                else:
                    self.produce_sync(TARGET, message.payload, key=message.key)
                    self.mark_as_consumed(message, sync=True)

    app = App(kafka=KAFKA, client_id="forwarder", max_messages=5)
    app.topic(SOURCE, Forwarder)
    app.declare_topic(TARGET)
    return app


def ack_first_app() -> App:
    """The buggy variant."""
    return forwarder_app(ack_first=True)


def forward_first_app() -> App:
    """The correct variant."""
    return forwarder_app(ack_first=False)
