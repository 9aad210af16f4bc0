"""``selfeng worker``: answers requests, verifies proposed tools and runs the learners.

The request side is a member of a consumer group over RequestReceived and ToolProposed; each
learner is a consumer group of its own (``selfeng.learner.<name>``) over the types it reacts
to, with its own tracked position, so a slow synthesis never holds up answers' learning and a
learner added later starts from the beginning of the log. After each batch a consumer commits
its position; a worker killed in between handles the batch again on restart, and because
every reaction's events have ids derived from their cause, the log stores them once (tools
may run twice: delivery is at least once).
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from dataclasses import dataclass

from selfeng.app import Selfeng
from selfeng.consumers.learner import Learner
from selfeng.consumers.verifier import verify
from selfeng.core.log import GroupConsumer
from selfeng.core.mapper import DecodeError, from_record
from selfeng.core.records import StoredRecord
from selfeng.core.sandbox import SandboxUnavailable
from selfeng.schemas import Event, RequestReceived, ToolProposed

logger = logging.getLogger(__name__)

TYPES = frozenset({"RequestReceived", "ToolProposed"})

LEARNER_GROUP = "selfeng.learner.{name}"
"""The consumer group of a learner."""


@dataclass
class _Member:
    name: str
    consumer: GroupConsumer
    learner: Learner | None


class Worker:
    """Handles the requests and tool proposals of the log and runs the learners."""

    def __init__(
        self, app: Selfeng, *, group: str = "selfeng.worker", learners: bool = True
    ) -> None:
        """``learners``: also run every learner as its own consumer group."""
        self.app = app
        self.group = group
        self.run_learners = learners
        self.handled = 0
        self.learnt = 0

    def run(self, stop: threading.Event, *, poll: float = 0.5) -> None:
        """Consume until ``stop`` is set."""
        with ExitStack() as stack:
            members = [
                _Member(
                    self.group,
                    stack.enter_context(self.app.log.consumer(self.group, types=TYPES)),
                    None,
                )
            ]
            if self.run_learners:
                for learner in self.app.learners:
                    group = LEARNER_GROUP.format(name=learner.name)
                    consumer = self.app.log.consumer(group, types=learner.reacts_to)
                    members.append(_Member(group, stack.enter_context(consumer), learner))
            wait = poll / len(members)
            while not stop.is_set():
                for member in members:
                    batch = member.consumer.poll(timeout=wait)
                    for record in batch.records:
                        if member.learner is None:
                            self.process(record)
                        else:
                            self.react(member.learner, record)
                    if batch.records:
                        member.consumer.commit(batch.position)

    def process(self, record: StoredRecord) -> None:
        """Handle one record (a request to answer, or a tool to verify)."""
        event = _decode(record)
        if isinstance(event, RequestReceived) and not event.answered_inline:
            self.app.handle(event, learn=False)
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

    def react(self, learner: Learner, record: StoredRecord) -> list[Event]:
        """Let one learner react to one record; a failure is logged, not raised."""
        event = _decode(record)
        if event is None or not learner.wants(event):
            return []
        try:
            learnt = learner.react(event)
        except Exception:
            logger.exception("the %s learner failed on %s", learner.name, event.type)
            return []
        self.learnt += len(learnt)
        return learnt


def _decode(record: StoredRecord) -> Event | None:
    try:
        return from_record(record)
    except DecodeError as error:  # the projection runner dead-letters it
        logger.warning("skipping undecodable %s: %s", record.source, error.reason)
        return None
