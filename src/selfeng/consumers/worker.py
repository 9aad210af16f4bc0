"""``selfeng worker``: answers requests and verifies proposed tools, from the log.

A member of a consumer group over RequestReceived and ToolProposed. After each batch it
commits the group's position; a worker killed in between handles the batch again on restart,
and because the handler's and the verifier's events have ids derived from their input, the
log stores their output once (tools may run twice: delivery is at least once).
"""

from __future__ import annotations

import logging
import threading

from selfeng.app import Selfeng
from selfeng.consumers.verifier import verify
from selfeng.core.mapper import DecodeError, from_record
from selfeng.core.records import StoredRecord
from selfeng.core.sandbox import SandboxUnavailable
from selfeng.schemas import RequestReceived, ToolProposed

logger = logging.getLogger(__name__)

TYPES = frozenset({"RequestReceived", "ToolProposed"})


class Worker:
    """Handles the requests and tool proposals of the log, one consumer-group member."""

    def __init__(self, app: Selfeng, *, group: str = "selfeng.worker") -> None:
        self.app = app
        self.group = group
        self.handled = 0

    def run(self, stop: threading.Event, *, poll: float = 0.5) -> None:
        """Consume until ``stop`` is set."""
        with self.app.log.consumer(self.group, types=TYPES) as consumer:
            while not stop.is_set():
                batch = consumer.poll(timeout=poll)
                for record in batch.records:
                    self.process(record)
                if batch.records:
                    consumer.commit(batch.position)

    def process(self, record: StoredRecord) -> None:
        """Handle one record (a request to answer, or a tool to verify)."""
        try:
            event = from_record(record)
        except DecodeError as error:  # the projection runner dead-letters it
            logger.warning("skipping undecodable %s: %s", record.source, error.reason)
            return
        if isinstance(event, RequestReceived) and not event.answered_inline:
            self.app.handle(event)
            self.handled += 1
        elif isinstance(event, ToolProposed):
            tool = self.app.registry()["tools"].get(event.tool)
            version = tool["versions"].get(str(event.version)) if tool else None
            if version is not None and version["status"] == "proposed":
                try:
                    sandbox = self.app.sandbox
                except SandboxUnavailable as exc:
                    logger.error("cannot verify %s v%s: %s", event.tool, event.version, exc)
                    return
                self.app.append(verify(event, sandbox))
                self.handled += 1
