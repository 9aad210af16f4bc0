"""``selfeng worker``: answers requests, verifies proposed tools and runs the learners.

The request side is a member of a consumer group over RequestReceived and ToolProposed; each
learner is a consumer group of its own (``selfeng.learner.<name>``) over the types it reacts
to, with its own tracked position, so a learner added later starts from the beginning of the
log. Handling is one record at a time in a process, so a long synthesis holds up answers in
that process: run the requests and the learners in separate processes
(``selfeng worker --no-learners`` and ``selfeng worker --learners-only``) to keep them apart, or
several of each on Kafka to share the work.

Exactly-once effects. The request side commits its position after every record it handles,
so a worker killed mid-batch leaves at most the record it was handling uncommitted. What a
member polls in a partition before its first commit there (after a start or a rebalance)
may have been answered by the member before it; for such a request the worker asks the log
whether the request's key already holds more than the request, and then does not answer it
again (a second answer could differ: a cache hit the second time, say). Learners commit
after each batch; their events have ids derived from their cause, so a reaction repeated
after a crash is stored once on the embedded log, and on Kafka is folded once (readers drop
a copy of an id they have seen, including in the records just before where they start).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Protocol

from selfeng.consumers.learner import Learner
from selfeng.consumers.verifier import verify
from selfeng.core.log import EventLog, GroupConsumer, GroupRebalanced
from selfeng.core.mapper import (
    DecodeError,
    append_events,
    dead_letter_for_record,
    from_record,
)
from selfeng.core.records import StoredRecord
from selfeng.core.sandbox import Sandbox, SandboxUnavailable
from selfeng.projections.registry import RegistryState
from selfeng.schemas import DeadLetter, Event, RequestReceived, ToolProposed

logger = logging.getLogger(__name__)

TYPES = frozenset({"RequestReceived", "ToolProposed"})

LEARNER_GROUP = "selfeng.learner.{name}"
"""The consumer group of a learner."""

MAX_ATTEMPTS = 3
"""Times a record is tried before it is dead-lettered."""
RETRY_SECONDS = 0.05
"""The pause before the second try (twice that before the third)."""


class WorkerHost(Protocol):
    """What a worker runs on (the embedded runtime, ``Selfeng``, is one)."""

    @property
    def log(self) -> EventLog:
        """The log consumed and appended to."""
        ...

    @property
    def learners(self) -> list[Learner]:
        """The learners, each run as a consumer group of its own."""
        ...

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox proposed tools are verified in."""
        ...

    def registry(self) -> RegistryState:
        """The live registry."""
        ...

    def seeding_unfinished(self) -> bool:
        """Whether the starter library is due (see ``seed_tools``)."""
        ...

    def seed_tools(self) -> object:
        """Register the starter tools not registered yet."""
        ...

    def fold_held(self, records: Sequence[StoredRecord], events: Sequence[Event]) -> None:
        """Fold records this process holds into its projections, where they are next."""
        ...

    def handle(self, received: RequestReceived, *, learn: bool = True) -> list[Event]:
        """Answer a request in the log: append and return the handler's events."""
        ...

    def append(
        self, events: Sequence[Event], *, expected_versions: dict[str, int] | None = None
    ) -> list[StoredRecord]:
        """Append events atomically."""
        ...


@dataclass
class _Member:
    name: str
    consumer: GroupConsumer
    learner: Learner | None


class Worker:
    """Handles the requests and tool proposals of the log and runs the learners."""

    def __init__(
        self,
        app: WorkerHost,
        *,
        group: str = "selfeng.worker",
        learners: bool = True,
        requests: bool = True,
    ) -> None:
        """``learners``: run every learner as its own consumer group; ``requests``: answer
        requests and verify proposed tools."""
        if not (learners or requests):
            raise ValueError("a worker needs requests, learners or both to consume")
        self.app = app
        self.group = group
        self.run_learners = learners
        self.run_requests = requests
        self.handled = 0
        self.learnt = 0
        self.dead_lettered = 0
        """Records dead-lettered because their handling kept failing."""
        self.already_answered = 0
        """Requests polled again after a crash or rebalance that the log shows answered."""
        self._counting = threading.Lock()  # the counts above, kept by several threads

    def _count(self, name: str, n: int = 1) -> None:
        with self._counting:
            setattr(self, name, getattr(self, name) + n)

    def run(self, stop: threading.Event, *, poll: float = 0.5) -> None:
        """Consume until ``stop`` is set.

        Each consumer polls and handles in a thread of its own (a Kafka group member must keep
        polling to join and stay in its group), so a learner waiting on an LLM never holds up
        an answer: projection state is read through views and folded under each runner's
        lock, and the request handler is used by one thread at a time (``handling``). A
        record whose handling keeps failing is dead-lettered and passed (see ``_handle``); a
        consumer stops only when the log itself fails, and that stops the worker, with the
        error raised here.
        """
        if self.run_requests and self.app.seeding_unfinished():
            # a fresh home: answer with the starter library (as a first `ask` would)
            self.app.seed_tools()
        failures: list[BaseException] = []
        with ExitStack() as stack:
            members = []
            if self.run_requests:
                consumer = self.app.log.consumer(self.group, types=TYPES)
                members.append(_Member(self.group, stack.enter_context(consumer), None))
            if self.run_learners:
                for learner in self.app.learners:
                    group = LEARNER_GROUP.format(name=learner.name)
                    consumer = self.app.log.consumer(group, types=learner.reacts_to)
                    members.append(_Member(group, stack.enter_context(consumer), learner))
            threads = [
                threading.Thread(
                    target=self._consume,
                    args=(member, stop, poll, failures),
                    name=member.name,
                    daemon=True,
                )
                for member in members
            ]
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    while thread.is_alive():
                        thread.join(0.5)
            except KeyboardInterrupt:  # Ctrl-C: let every consumer finish its batch first
                stop.set()
                for thread in threads:
                    thread.join(60)
                raise
        if failures:
            raise failures[0]

    def _consume(
        self,
        member: _Member,
        stop: threading.Event,
        poll: float,
        failures: list[BaseException],
    ) -> None:
        try:
            while not stop.is_set():
                batch = member.consumer.poll(timeout=poll)
                if not batch.records:
                    continue
                try:
                    for record in batch.records:
                        self._handle(member, record)
                        if member.learner is None:  # at most one request is ever redone
                            member.consumer.commit(self.app.log.start().advanced([record]))
                    member.consumer.commit(batch.position)
                except GroupRebalanced as exc:  # the rest goes to the partitions' new owners
                    logger.info("%s: %s", member.name, exc)
        except BaseException as exc:
            logger.exception("the %s consumer stopped", member.name)
            failures.append(exc)
            stop.set()

    def _handle(self, member: _Member, record: StoredRecord) -> None:
        self.handle_record(
            record,
            learner=member.learner,
            group=member.name,
            maybe_handled=member.consumer.may_be_handled(record),
        )

    def handle_record(
        self,
        record: StoredRecord,
        *,
        learner: Learner | None,
        group: str,
        maybe_handled: bool,
    ) -> None:
        """Handle one record as ``group`` (a request or tool proposal when ``learner`` is None,
        else that learner's reaction), trying again up to ``MAX_ATTEMPTS`` times; a record
        that still fails is dead-lettered (with the error, the group and the attempts) and
        passed, so no one record can stop a worker. Only a log that will not take even the
        dead letter stops it: then the log, not the record, is what fails.
        ``maybe_handled``: the record may have been handled before (see the module doc)."""
        problem: Exception | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                if learner is None:
                    self.process(record, maybe_handled=maybe_handled)
                else:
                    self.react(learner, record, raise_errors=True)
                return
            except DecodeError as error:
                self._dead_letter(dead_letter_for_record(record, error))
                return
            except Exception as exc:
                problem = exc
                logger.warning(
                    "%s: handling %s failed (attempt %d of %d): %s",
                    group, record.source, attempt, MAX_ATTEMPTS, exc,
                )  # fmt: skip
                if attempt < MAX_ATTEMPTS:
                    time.sleep(RETRY_SECONDS * attempt)
        assert problem is not None
        reason = f"{type(problem).__name__}: {problem}"[:2000]
        letter = dead_letter_for_record(
            record,
            DecodeError("handler_failed", reason, record.type or None),
            group=group,
            attempts=MAX_ATTEMPTS,
        )
        logger.error("%s: dead-lettered %s: %s", group, record.source, reason)
        self._dead_letter(letter)
        self._count("dead_lettered")

    def _dead_letter(self, letter: DeadLetter) -> None:
        """Append a dead letter; a log that refuses it is down (that stops the worker)."""
        append_events(self.app.log, [letter])

    def process(self, record: StoredRecord, *, maybe_handled: bool = False) -> None:
        """Handle one record (a request to answer, or a tool to verify); raises
        ``DecodeError`` for a record that is not a valid event. ``maybe_handled``: the
        record may have been handled before (see the module docstring)."""
        event = from_record(record)
        if isinstance(event, RequestReceived) and not event.answered_inline:
            if maybe_handled and self.app.log.key_version(event.key) > 1:
                logger.info("%s was answered before this member got it", record.source)
                self._count("already_answered")
                return
            # the request is the record before the answer in its partition: folded now, the
            # answer is folded as it is appended instead of at the next read of the log
            self.app.fold_held([record], [event])
            self.app.handle(event, learn=False)
            self._count("handled")
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
                self._count("handled")

    def react(
        self, learner: Learner, record: StoredRecord, *, raise_errors: bool = False
    ) -> list[Event]:
        """Let one learner react to one record. A failure is logged and nothing is learnt,
        unless ``raise_errors`` (the worker's own loop, which retries and dead-letters)."""
        try:
            event = from_record(record)
            if not learner.wants(event):
                return []
            learnt = learner.react(event)
        except Exception:
            if raise_errors:
                raise
            logger.exception("the %s learner failed on %s", learner.name, record.source)
            return []
        self._count("learnt", len(learnt))
        return learnt
