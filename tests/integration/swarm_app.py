"""An app for the swarm tests: records what each node processed; can hang once on demand.

Environment: BOOTSTRAP, TOPIC, GROUP, OUT (a file each processed message is appended to as
"pid partition offset"), NODE_REPORT_TIMEOUT, HANG_MARKER (if set and the file is missing, the
first consume creates it and hangs; later nodes see it and work normally), BAD_KAFKA (a
setting librdkafka refuses), SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import logging
import os
import time

from engine import App, Consumer, Messages

OUT = os.environ["OUT"]
HANG = os.environ.get("HANG_MARKER")
log = logging.getLogger("swarm_app")  # a user's own logger: its lines name the node too


class Recording(Consumer):
    def consume(self, messages: Messages) -> None:
        if HANG and not os.path.exists(HANG):
            open(HANG, "w").close()
            time.sleep(3600)  # the hung consumer: only the supervisor's kill ends this node
        with open(OUT, "a") as out:
            out.write("".join(f"{os.getpid()} {m.partition} {m.offset}\n" for m in messages))
        log.info("recorded %d message(s) of partition %d", len(messages),
                 messages.metadata.partition)


kafka = {"bootstrap.servers": os.environ["BOOTSTRAP"],
         "session.timeout.ms": int(os.environ.get("SESSION_TIMEOUT_MS", "6000")),
         "heartbeat.interval.ms": int(os.environ.get("HEARTBEAT_INTERVAL_MS", "1000"))}
if os.environ.get("BAD_KAFKA"):
    kafka["fetch.min.bytes"] = "many"
app = App(kafka=kafka, client_id=os.environ["GROUP"],
          shutdown_timeout=float(os.environ.get("SHUTDOWN_TIMEOUT", "20")),
          node_report_timeout=float(os.environ.get("NODE_REPORT_TIMEOUT", "60")))
app.topic(os.environ["TOPIC"], Recording)
