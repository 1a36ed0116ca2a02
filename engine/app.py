"""The App: settings, routes, lifecycle, monitor and plugins behind one facade."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine import plugin as plugin_loading
from engine.app_producer import AppProducer
from engine.config.settings import Settings
from engine.errors import ConfigError, EngineError, PluginError, RoutingError, SwarmError
from engine.instrumentation.monitor import Monitor
from engine.lifecycle.app_state import AppState
from engine.lifecycle.lifecycle import Lifecycle
from engine.plugin import Plugin
from engine.producer import Producer
from engine.routing.consumer_group import ConsumerGroup, SubscriptionGroupBuilder
from engine.routing.declarations import TopicDeclarations
from engine.routing.declared_topics import DeclaredTopic
from engine.routing.routes import Routes
from engine.routing.selection import Selection
from engine.routing.subscription_group import SubscriptionGroup
from engine.routing.topic import Topic
from engine.server.first_state import initialize

if TYPE_CHECKING:
    from engine.server import Server

class App(TopicDeclarations):
    """A Kafka consumer application: declare routes, subscribe to events, then run it.

    Every setting is keyword-only and validated at once (``engine.ConfigError``).
    """

    def __init__(self, **options: Any) -> None:
        self.settings = Settings.build(**options)
        self.monitor = Monitor(owner=self)
        self.lifecycle = Lifecycle(self.monitor, self)
        self.routes = Routes(self.settings.client_id)
        self.producer = Producer(self.settings.kafka, self.settings.client_id, self.monitor)
        self._sending = AppProducer(self.producer, self.lifecycle, self.settings.shutdown_timeout)
        self._server: Server | None = None
        self._plugins: dict[str, Plugin] = {}
        for name in self.settings.plugins:
            self.use(name)
        initialize(self.lifecycle)  # the server's package moves the app's state, even this first

    @property
    def state(self) -> AppState:
        """The lifecycle state (compares equal to its name, e.g. ``"running"``)."""
        return self.lifecycle.state

    @property
    def plugins(self) -> dict[str, Plugin]:
        """Installed plugins by name."""
        return dict(self._plugins)

    def use(self, plugin: Plugin | str) -> Plugin:
        """Install a plugin (an object, or a name from the ``engine.plugins`` entry points)."""
        if isinstance(plugin, str):
            loaded = plugin_loading.load(plugin)
        else:
            loaded = plugin_loading.checked(plugin)
        if loaded.name in self._plugins:
            raise PluginError(f"plugin {loaded.name!r} is already installed on this app")
        try:
            loaded.install(self)
        except Exception as error:
            raise PluginError(f"plugin {loaded.name!r} failed to install: {error!r}") from error
        self._plugins[loaded.name] = loaded
        return loaded

    def run(self, selection: Selection | None = None) -> None:
        """Run in this process until a signal stops it (call from the main thread).

        SIGINT/SIGTERM/SIGQUIT stop gracefully (a second SIGINT forces), SIGTSTP quiets,
        SIGTTIN logs every thread's stack. A stop longer than ``shutdown_timeout`` reports what
        still ran and exits the process with code 2.
        """
        from engine.server.process_mode import ProcessMode

        ProcessMode(self._new_server(selection)).run()

    def run_swarm(self, nodes: int, selection: Selection | None = None) -> None:
        """Run ``nodes`` supervised copies of this app, one process each (POSIX: fork).

        Returns once every node stopped gracefully; raises ``SwarmError`` when one had to be
        forced (``exit_code`` 2) or the app cannot run as configured (1), and never exits the
        process itself: the caller picks the exit code (see ``engine.swarm``).
        """
        from engine.swarm import Supervisor

        code = Supervisor(self, nodes, selection).run()
        if code:
            raise SwarmError(code)

    def start(self, selection: Selection | None = None) -> None:
        """Run in background threads (no signal handlers); return once running."""
        self._new_server(selection).start_background()

    def statistics(self) -> dict[str, int]:
        """How many jobs wait for a worker, run on the workers, and are on the event loop now.

        ``jobs_queued``, ``workers_busy`` and ``async_jobs`` (async consumers' jobs, running
        or waiting for a slot). Zeros before a start. Cheap enough for a metrics scrape:
        plugins read it when asked instead of following every job.
        """
        if self._server is None:
            return {"jobs_queued": 0, "workers_busy": 0, "async_jobs": 0}
        figures = self._server.jobs_queue.statistics()
        return {"jobs_queued": figures["enqueued"], "workers_busy": figures["busy"],
                "async_jobs": figures["on_loop"]}

    def produce(self, topic: str, value: Any, *, key: Any = None, headers: Any = None,
                partition: int | None = None, timeout: float = 30.0) -> None:
        """Send a message asynchronously through the producer the consumers share.

        Encoded as ``Consumer.produce`` encodes; a failed delivery is reported as
        ``error.occurred`` type ``producer.delivery.error``. Works before a start and while
        the app runs; raises ``NotRunningError`` in a swarm's supervisor and after the stop.
        """
        self._sending.send(topic, value, sync=False, key=key, headers=headers,
                           partition=partition, timeout=timeout)

    def produce_sync(self, topic: str, value: Any, *, key: Any = None, headers: Any = None,
                     partition: int | None = None, timeout: float = 30.0) -> None:
        """Send a message and wait for the acknowledgement (``ProduceError`` past ``timeout``).

        Allowed where ``produce`` is.
        """
        self._sending.send(topic, value, sync=True, key=key, headers=headers,
                           partition=partition, timeout=timeout)

    def quiet(self, timeout: float | None = None) -> bool:
        """Stop taking new work but keep the partitions; True once every listener is quiet."""
        server = self._running_server()
        server.quiet()
        return server.wait_for(AppState.QUIET, timeout or self.settings.shutdown_timeout)

    def pause(self, topic: str, partition: int, timeout: float | None = None) -> None:
        """Pause one partition from outside its jobs (an operator's pause; the dashboard's).

        Nothing more of it is fetched for ``timeout`` seconds (None: until ``resume``); a
        batch already running finishes, and fetching goes on where it stood, so nothing is
        skipped or read twice. The process that owns the partition pauses it; elsewhere it
        is a no-op. Raises ``RoutingError`` for a topic this app does not consume.
        """
        checked = _partition_request(self, topic, partition, timeout)
        self._running_server().pause_partition(topic, partition, checked)

    def resume(self, topic: str, partition: int) -> None:
        """End a partition's pause now: an operator's, the consumer's or a retry's back-off."""
        _partition_request(self, topic, partition, None)
        self._running_server().resume_partition(topic, partition)

    def stop(self) -> None:
        """Stop gracefully; raises ``StopTimeout`` past ``shutdown_timeout`` (never exits)."""
        server = self._running_server()
        server.shutdown_or_raise()
        if server.error is not None:
            raise server.error

    def _new_server(self, selection: Selection | None) -> Server:
        from engine.server import Server  # not at import: it brings the Kafka client

        if self._server is not None or self.lifecycle.is_stopping:
            raise EngineError("this app was already started; build a new App to run again")
        groups = self.subscription_groups(selection)  # a RoutingError before anything runs
        self.routes.declared_topics(self.settings)  # so is a topic declared two ways
        server = Server(self.lifecycle, self.monitor, self.settings, self.producer, groups)
        self._start_plugins(server)
        self._server = server
        return server

    def _start_plugins(self, server: Server) -> None:
        """Call each plugin's optional ``start(app)`` (it binds its server, say) in order.

        One that raises fails the start with a ``PluginError`` naming it; the app then stops
        (``app.stopped``, so plugins already started close what they opened) and cannot run.
        """
        for plugin in self._plugins.values():
            start = getattr(plugin, "start", None)
            if not callable(start):
                continue
            try:
                start(self)
            except Exception as error:
                server.abandon()
                raise PluginError(f"plugin {plugin.name!r} failed to start: {error}",
                                  getattr(error, "hint", None)) from error

    def _running_server(self) -> Server:
        if self._server is None:
            raise EngineError("this app is not running: call app.start() first")
        return self._server

    def consumer_group(self, name: str) -> ConsumerGroup:
        """A consumer group of its own (created on first use)."""
        return self.routes.consumer_group(name)

    def subscription_group(self, name: str) -> SubscriptionGroupBuilder:
        """An explicit subscription group in the default consumer group."""
        return self.routes.subscription_group(name)

    def subscription_groups(
        self, selection: Selection | None = None
    ) -> tuple[SubscriptionGroup, ...]:
        """The subscription groups that would run, after ``active`` flags and filters."""
        return self.routes.subscription_groups(self.settings, selection)

    def declare_topic(self, name: str, *, config: Mapping[str, Any] | None = None) -> None:
        """Declare a topic this app does not consume (one it produces to, such as a DLQ).

        ``config`` is as in ``topic(..., config=...)``; ``engine topics`` manages it.
        """
        self.routes.declare_topic(name, config)

    def declared_topics(self, selection: Selection | None = None) -> tuple[DeclaredTopic, ...]:
        """The topics ``engine topics`` and ``engine.admin`` manage, after filters."""
        return self.routes.declared_topics(self.settings, selection)

    def lifecycle_diagram(self) -> str:
        """The app lifecycle as a Mermaid state diagram."""
        return Lifecycle.diagram()

    def _declare(self, name: str, consumer_class: Any, options: dict[str, Any]) -> Topic:
        return self.routes._declare(name, consumer_class, options)

    def __repr__(self) -> str:
        """The client id and state."""
        return f"<App {self.settings.client_id!r} {self.state.value}>"


UNTIL_RESUMED = 10 * 365 * 24 * 3600.0
"""The seconds of a pause without a timeout: ten years, a number every report can carry."""


def _partition_request(app: App, topic: str, partition: int, timeout: float | None) -> float:
    """The pause's seconds; ``RoutingError`` or ``ConfigError`` naming what is wrong."""
    routed = sorted({route.name for group in app.subscription_groups()
                     for route in group.topics})
    if topic not in routed:
        raise RoutingError(f"topic {topic!r} is not consumed by this app (routed topics:"
                           f" {', '.join(routed) or 'none'})")
    problems = []
    if not isinstance(partition, int) or isinstance(partition, bool) or partition < 0:
        problems.append(f"partition must be an integer >= 0 (got {partition!r})")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout < float("inf")):
        problems.append(f"timeout must be None or a number of seconds > 0 (got {timeout!r})")
    if problems:
        raise ConfigError(problems)
    return UNTIL_RESUMED if timeout is None else float(timeout)
