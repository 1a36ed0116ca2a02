"""OpenTelemetry tracing: a CONSUMER span per processed batch, and ``traceparent`` on sends.

Built on opentelemetry-api only: spans go to whatever tracer provider the application set up
(the SDK and its exporters are the application's choice).
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any

from engine.plugin_options import Configurable, Option, needs

if TYPE_CHECKING:
    from engine.app import App

_FAILED = ("consumer.consume.error", "consumer.deserialize.error")


class OpenTelemetryPlugin(Configurable):
    """Traces each batch as ``process <topic>`` with the messaging semantic conventions.

    The span links to every distinct trace context found in the batch's ``traceparent``
    headers, records the exception and status ERROR when ``consume`` fails, and is current
    while ``consume`` runs, so what the consumer produces carries its ``traceparent``.
    Options: ``tracer_name`` (``engine``); ``tracer_provider=`` (keyword only) overrides the
    global provider.
    """

    name = "opentelemetry"
    OPTIONS = (Option("tracer_name", str, "engine", help="the instrumentation scope's name"),)

    def __init__(self, *, tracer_provider: Any = None, **options: Any) -> None:
        values = self.configure(options)
        self._trace = needs(self.name, "opentelemetry.trace", "opentelemetry")
        self._propagate = needs(self.name, "opentelemetry.propagate", "opentelemetry")
        self._context = needs(self.name, "opentelemetry.context", "opentelemetry")
        self.tracer = self._trace.get_tracer(values["tracer_name"],
                                             tracer_provider=tracer_provider)
        self._open: dict[int, tuple[Any, Any]] = {}  # consumer id -> (span, context token)
        self._lock = threading.Lock()
        # the context tokens attached in the current context (a thread's, or an async job's
        # task's): only there can one be detached
        self._attached: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
            f"engine-opentelemetry-{id(self)}", default=frozenset())

    def install(self, app: App) -> None:
        """Open and close spans around consume calls; inject ``traceparent`` into sends."""
        app.monitor.subscribe("consumer.consume", self._on_consume)
        app.monitor.subscribe("consumer.consumed", self._on_consumed)
        app.monitor.subscribe("error.occurred", self._on_error)
        app.producer.add_header_source(self._traceparent)

    def _on_consume(self, sender: Any, **event: Any) -> None:
        messages = event["messages"]
        attributes = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": event["topic"],
            "messaging.destination.partition.id": str(event["partition"]),
            "messaging.consumer.group.name": getattr(sender, "consumer_group", ""),
            "messaging.batch.message_count": len(messages),
        }
        span = self.tracer.start_span(
            f"process {event['topic']}", kind=self._trace.SpanKind.CONSUMER,
            attributes=attributes,
        )
        if span.is_recording():  # a non-recording span (no SDK) needs no header read
            for link in self._links(messages):
                span.add_link(link.context)
        token = self._context.attach(self._trace.set_span_in_context(span))
        self._attached.set(self._attached.get() | {id(token)})
        with self._lock:
            self._open[id(sender)] = (span, token)

    def _on_consumed(self, sender: Any, **event: Any) -> None:
        self._close(sender, None)

    def _on_error(self, sender: Any, **event: Any) -> None:
        if event.get("type") in _FAILED:
            self._close(sender, event.get("error"))

    def _close(self, sender: Any, error: BaseException | None) -> None:
        with self._lock:
            opened = self._open.pop(id(sender), None)
        if opened is None:
            return
        span, token = opened
        if error is not None:
            span.record_exception(error)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, repr(error)))
        span.end()
        attached = self._attached.get()
        # an async consumer's batch may be settled off the loop (a transactional one, say):
        # its ``consumer.consumed`` comes from another context, and the task's ends with it
        if id(token) in attached:
            self._attached.set(attached - {id(token)})
            self._context.detach(token)

    def _links(self, messages: Any) -> list[Any]:
        """One link per distinct valid trace context in the batch's ``traceparent`` headers."""
        links, seen = [], set()
        for raw in messages.raw:
            headers = raw.headers()
            if not headers:
                continue
            carrier = {name: value.decode("latin-1") for name, value in headers
                       if value is not None and name in ("traceparent", "tracestate")}
            if "traceparent" not in carrier:
                continue
            context = self._trace.get_current_span(self._propagate.extract(carrier))
            span_context = context.get_span_context()
            key = (span_context.trace_id, span_context.span_id)
            if span_context.is_valid and key not in seen:
                seen.add(key)
                links.append(self._trace.Link(span_context))
        return links

    def _traceparent(self) -> list[tuple[str, bytes]]:
        """The current context as headers (nothing outside a span)."""
        carrier: dict[str, str] = {}
        self._propagate.inject(carrier)
        return [(name, value.encode()) for name, value in carrier.items()]
