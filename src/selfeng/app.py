"""The embedded runtime: one process holding the log, the projection store, the engine, and
(opened on first use) the sandbox, the embedder and the request handler.

This is what the command-line program and the Python client open. It wires adapters chosen
by URL (``selfeng.core.backends``) with the projections and consumers; it holds no state of
its own beyond caches that are rebuilt from projections.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from selfeng.consumers.llm_planner import LLMPlanner
from selfeng.consumers.ports import LearnerPorts
from selfeng.consumers.request_handler import HandlerState, RequestHandler
from selfeng.consumers.search import INDEX_POLICIES, ToolSearch
from selfeng.consumers.verifier import verify
from selfeng.core import backends
from selfeng.core.closing import Closeable
from selfeng.core.embedder import Embedder
from selfeng.core.llm import LLM
from selfeng.core.log import ConcurrencyConflict, EventLog
from selfeng.core.mapper import append_events, from_record
from selfeng.core.positions import Position
from selfeng.core.records import StoredRecord
from selfeng.core.sandbox import Sandbox, SandboxUnavailable
from selfeng.core.settings import Settings
from selfeng.core.store import ProjectionStore
from selfeng.core.tooldef import ToolDefinition
from selfeng.core.vector_store import VectorStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import ProjectionFactory, default_projections
from selfeng.projections.engine import ProjectionEngine
from selfeng.projections.experiments import Assigner, ExperimentsState
from selfeng.projections.policies import PoliciesState, policy_values
from selfeng.projections.registry import RegistryState, next_version
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import Event, RequestReceived, ToolOrigin, ToolProposed, ToolRejected

if TYPE_CHECKING:
    from selfeng.consumers.learner import Learner

logger = logging.getLogger(__name__)

_SEEDED = frozenset({"registered", "proposed", "verified"})
"""Statuses of a starter tool's version that a seeding leaves alone (a rejected one, say
by a sandbox that could not start, is proposed again)."""
_VERIFYING = frozenset({"proposed", "verified"})
SEED_WAIT_SECONDS = 60.0
"""How long a seeding waits for starter tools another client is verifying."""

MAX_LEARNING_CHAIN = 1000
"""Events the in-process learners may react to after one batch (a guard against a loop)."""


class Selfeng(Closeable):
    """An open selfeng: log, projection store and engine; sandbox and search on first use."""

    def __init__(
        self,
        log: EventLog,
        store: ProjectionStore,
        *,
        settings: Settings | None = None,
        projections: ProjectionFactory = default_projections,
        sandbox: Sandbox | None = None,
        embedder: Embedder | None = None,
        llm: LLM | bool | None = True,
        learners: Callable[[LearnerPorts], list[Learner]] | None = None,
    ) -> None:
        """``llm``: the model learners may call; True (default) configures it from the
        settings (``OPENAI_*``) on first use, None or False means none. ``learners`` builds
        the learners from the ports they take (default:
        ``selfeng.consumers.catalog.default_learners``)."""
        self.settings = settings or Settings.resolve(env={})
        self.log = log
        self.store = store
        self.engine = ProjectionEngine(log, store, projections)
        self._sandbox = sandbox
        self._embedder = embedder
        self._llm: LLM | bool | None = llm
        self._learner_factory = learners
        self._opening = threading.Lock()
        self._arm_handlers: dict[str, RequestHandler] = {}
        self.handling = threading.RLock()
        """Held while the request handler answers (its search index and wordings are shared
        by one thread at a time); learners run beside it, without it."""
        self._assign = Assigner()

    @classmethod
    def open(cls, settings: Settings | None = None) -> Selfeng:
        """Open the log and store the settings name (default: ``Settings.resolve()``)."""
        settings = settings or Settings.resolve()
        backends.check_parts(settings.sandbox_url, settings.embedder)
        if settings.log_url.startswith("sqlite:") or settings.store_url.startswith("sqlite:"):
            settings.home.mkdir(parents=True, exist_ok=True)
        log = backends.open_log(settings.log_url)
        try:
            store = backends.open_store(settings.store_url)
        except BaseException:
            log.close()
            raise
        return cls(log, store, settings=settings)

    # -- parts opened on first use -----------------------------------------------------------

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox tools run in (the settings', or the strongest that works here)."""
        if self._sandbox is None:
            with self._opening:  # threads of a worker ask for it at once
                if self._sandbox is None:
                    self._sandbox = backends.open_sandbox(self.settings.sandbox_url or "auto://")
        return self._sandbox

    @property
    def embedder(self) -> Embedder:
        """The embedder tool search uses."""
        if self._embedder is None:
            self._embedder = backends.open_embedder(self.settings.embedder)
        return self._embedder

    @property
    def llm(self) -> LLM | None:
        """The model learners call, or None when none is configured (see ``selfeng doctor``)."""
        if self._llm is True:
            with self._opening:
                if self._llm is True:
                    self._llm = backends.open_llm(self.settings)
        return self._llm or None

    @cached_property
    def ports(self) -> LearnerPorts:
        """What the learners and the LLM planner are given instead of this runtime."""
        from selfeng.runtime_ports import RuntimePorts  # it imports this module

        return RuntimePorts(self)

    @cached_property
    def learners(self) -> list[Learner]:
        """The learners, in the order they react to an event."""
        if self._learner_factory is not None:
            return self._learner_factory(self.ports)
        from selfeng.consumers.catalog import default_learners

        return default_learners(self.ports)

    @cached_property
    def handler(self) -> RequestHandler:
        """The request handler."""
        search = ToolSearch(self.embedder, vectors=self.tool_vectors)
        return RequestHandler(lambda: self.sandbox, search, planner=self._planner)

    def handler_for(self, arm: str | None) -> RequestHandler:
        """The request handler of a policy arm (``handler`` for the main line): each arm has
        its own search index, built from its own fork's registry, so requests alternating
        between arms do not rebuild one index every time. An arm's index is kept in process
        (a PostgreSQL store's pgvector rows are the main line's)."""
        if arm is None or arm == MAIN.name:
            return self.handler
        handler = self._arm_handlers.get(arm)
        if handler is None:
            live = {fork.name for fork in self.engine.forks()}
            with self._opening:
                for gone in [name for name in self._arm_handlers if name not in live]:
                    del self._arm_handlers[gone]
                handler = self._arm_handlers.get(arm)
                if handler is None:
                    search = ToolSearch(self.embedder)
                    handler = RequestHandler(lambda: self.sandbox, search, planner=self._planner)
                    self._arm_handlers[arm] = handler
        return handler

    def replay_handler(self, values: Mapping[str, JsonValue]) -> RequestHandler:
        """A handler that answers past requests again under candidate ``values`` (offline:
        no LLM). It searches main's index, unless the values weigh the index otherwise
        (``INDEX_POLICIES``): then an index of its own, so main's is not rebuilt twice."""
        search = self.handler.search
        if any(name in INDEX_POLICIES for name in values):
            search = ToolSearch(self.embedder, background=False)
        return RequestHandler(lambda: self.sandbox, search)

    def served(self, received: RequestReceived) -> tuple[RequestReceived, HandlerState]:
        """The request as the arm that answers it serves it, and that arm's state: an arm
        that names no live fork is answered by main, and the handler's events say main."""
        received = self.assigned(received)
        state = self.handler_state(received.policy_arm, stale_ok=received.session_id is None)
        if received.policy_arm != state.arm:
            received = received.model_copy(update={"policy_arm": state.arm})
        return received, state

    @cached_property
    def tool_vectors(self) -> VectorStore | None:
        """Where tool search keeps a dense embedder's rows: pgvector, with a PostgreSQL store."""
        return backends.open_tool_vectors(self.store.url, self.embedder)

    def _planner(self) -> LLMPlanner | None:
        """The LLM planner, when an LLM is configured."""
        return LLMPlanner(self.ports) if self.llm is not None else None

    # -- appending ---------------------------------------------------------------------------

    def append(
        self, events: Sequence[Event], *, expected_versions: dict[str, int] | None = None
    ) -> list[StoredRecord]:
        """Append events atomically (see ``EventLog.append``).

        The projections this process keeps fold them at once when they are the log's next
        records (no read back); otherwise their next catch-up reads them.
        """
        stored = append_events(self.log, list(events), expected_versions=expected_versions)
        self.fold_held(stored, events)
        return stored

    def fold_held(self, records: Sequence[StoredRecord], events: Sequence[Event]) -> None:
        """Fold records this process holds with their events (it appended them, or consumed
        them from the log) into every projection runner they are the next records of; the
        others read them at their next catch-up (``ProjectionRunner.fold_appended``)."""
        known = {e.event_id.bytes: e for e in events}
        # the position after the records from where each runner is: runners that move
        # together compute it once
        afters: list[tuple[Position, Position | None]] = []
        for runner in self.engine.runners():
            runner.fold_appended(records, events, known, afters)

    def record(
        self, events: Sequence[Event], *, expected_versions: dict[str, int] | None = None
    ) -> list[Event]:
        """Append like ``append``; return the events as the log holds them.

        When an event's id was in the log already (a second reaction to one cause), the
        stored event is returned, not the new one, so a learner continues from what is
        recorded.
        """
        stored = self.append(events, expected_versions=expected_versions)
        return [from_record(record) for record in stored]

    # -- state -------------------------------------------------------------------------------

    def state(self, projection: str, arm: str | None = None) -> Any:
        """A projection's live state (or a fork's), caught up with the log."""
        runner = self.engine.runner(self.engine.fork(arm or MAIN.name))
        runner.catch_up(lazy=True)
        return runner.state(projection)

    def policies(self, arm: str | None = None) -> dict[str, JsonValue]:
        """The policy values in force (or a fork's)."""
        return policy_values(self.state("policies", arm))

    # -- tools -------------------------------------------------------------------------------

    def registry(self) -> RegistryState:
        """The live registry, caught up with the log."""
        self.engine.main.catch_up()
        state: RegistryState = self.engine.main.state("registry")
        return state

    def add_tool(
        self,
        tool: ToolDefinition,
        origin: ToolOrigin = "human",
        *,
        expected_version: int | None = None,
    ) -> list[Event]:
        """Propose a tool version, run its tests in the sandbox, register it if they pass.

        Returns the events appended: ToolProposed, then ToolVerified and ToolRegistered, or
        ToolRejected with the test report. The learners then react in this process.
        ``expected_version``: the tool's key version the caller decided on (raises
        ``ConcurrencyConflict`` when anything was appended to it since).
        """
        version_before = (
            self.log.key_version(tool.name) if expected_version is None else expected_version
        )
        proposed = ToolProposed(
            tool=tool.name,
            version=next_version(self.registry(), tool.name),
            spec=tool.spec,
            code=tool.code,
            tests=tool.tests,
            origin=origin,
            producer=f"selfeng.tools.{origin}",
        )
        self.append([proposed], expected_versions={tool.name: version_before})
        try:
            sandbox = self.sandbox
        except SandboxUnavailable as exc:
            outcome: list[Event] = [
                ToolRejected.following(
                    proposed,
                    tool=tool.name,
                    version=proposed.version,
                    reason=f"the sandbox could not start: {exc}",
                )
            ]
        else:
            outcome = verify(proposed, sandbox)
        self.append(outcome)
        self.engine.main.catch_up()
        self.learn(outcome)  # e.g. a composite embedding an older version is built again
        return [proposed, *outcome]

    def seed_tools(self) -> dict[str, list[Event]]:
        """Register every starter tool whose current code is not registered yet."""
        from selfeng.core.tooldef import parse_tool
        from selfeng.seed_tools import seed_sources

        added: dict[str, list[Event]] = {}
        tools = [parse_tool(source, name) for name, source in seed_sources().items()]
        for tool in tools:
            name = tool.name
            for _ in range(5):
                seen = self.log.key_version(name)  # before looking: a later append conflicts
                self.engine.main.catch_up()
                if self._seed_status(name, tool.code) in _SEEDED:
                    break  # registered, or being verified by a client that seeds too
                try:
                    added[name] = self.add_tool(tool, origin="seed", expected_version=seen)
                    break
                except ConcurrencyConflict:
                    continue  # another client proposed it first: look again
        # what another client is verifying: wait for its outcome, so the first answer has it
        deadline = time.monotonic() + SEED_WAIT_SECONDS
        while time.monotonic() < deadline:
            self.engine.main.catch_up()
            waiting = [t for t in tools if self._seed_status(t.name, t.code) in _VERIFYING]
            if not waiting:
                break
            time.sleep(0.05)
        return added

    def seeding_unfinished(self) -> bool:
        """Whether a starter tool is unknown to the registry, or still being verified (by
        this client or another that seeds at the same time): then ``seed_tools`` is due.
        A starter tool a user retired stays retired."""
        from selfeng.seed_tools import seed_sources

        tools = self.registry()["tools"]
        for name in seed_sources():
            known = tools.get(name)
            if known is None:
                return True
            if any(v["status"] in _VERIFYING for v in known["versions"].values()):
                return True
        return False

    def _seed_status(self, name: str, code: str) -> str | None:
        """The furthest status any version of tool ``name`` with this code has reached."""
        known = self.registry()["tools"].get(name)
        versions = known["versions"].values() if known is not None else []
        statuses = {v["status"] for v in versions if v["code"] == code}
        for status in ("registered", "verified", "proposed"):
            if status in statuses:
                return status
        return None

    # -- requests ----------------------------------------------------------------------------

    def handler_state(self, arm: str | None = None, *, stale_ok: bool = False) -> HandlerState:
        """The projections the handler reads, for the live policies or a fork's. An arm that
        names no live fork (never created, or dropped) is answered by main, and says why.

        With ``stale_ok`` they may be as old as the log's ``staleness`` for what other
        processes appended (``EventLog.staleness``; a Kafka log's read is a fetch from every
        partition). A request in a session is not answered from stale state: its previous
        request may have been answered by another worker just now."""
        note = ""
        try:
            fork = self.engine.fork(arm or MAIN.name)
        except KeyError as exc:
            fork, note = MAIN, f"{exc.args[0]}: main answered"
            logger.warning("request for policy arm %r: %s", arm, note)
        runner: ProjectionRunner = self.engine.runner(fork)
        runner.catch_up(lazy=True, stale_ok=stale_ok)
        policies: PoliciesState = runner.state("policies")
        return HandlerState(
            policies=policy_values(policies),
            registry=runner.state("registry"),
            cache=runner.state("cache"),
            skill_graph=runner.state("skill_graph"),
            sessions=_state_or_none(runner, "sessions"),
            plans=_state_or_none(runner, "plans"),
            patterns=_state_or_none(runner, "patterns"),
            writes_tools=self.llm is not None
            and any(learner.name == "synthesizer" for learner in self.learners),
            # "main" asked for by name is recorded as the arm (None: nobody asked)
            arm=None if fork.name == MAIN.name and arm != MAIN.name else fork.name,
            arm_note=note,
        )

    def assigned(self, received: RequestReceived) -> RequestReceived:
        """The request with the policy arm that serves it: the one it names, else the
        running experiment's arm for its session (or its id, without a session), so the
        handler's events record it; unchanged when no experiment runs."""
        if received.policy_arm is not None:
            return received
        try:  # as folded so far: answering catches up anyway, and an experiment that
            # started a moment ago takes the next requests
            state: ExperimentsState = self.engine.main.state("experiments")
        except KeyError:  # an app built without the experiments projection
            return received
        found = self._assign(state, received.session_id or received.key)
        if found is None:
            return received
        return received.model_copy(update={"policy_arm": found[2]})

    def handle(self, received: RequestReceived, *, learn: bool = True) -> list[Event]:
        """Answer a request that is in the log: append and return the handler's events.

        With ``learn`` the learners then react in this process (the embedded default), and
        their events follow the handler's in the list (a synthesized tool's answer among them).
        """
        received, state = self.served(received)
        with self.handling:
            events = self.handler_for(state.arm).handle(received, state)
        self.append(events)
        if learn:
            events += self.learn(events)
        return events

    def learn(self, events: Sequence[Event]) -> list[Event]:
        """Let the learners react to ``events`` and to what they append in turn; return it all.

        A learner that fails is logged and skipped: learning never breaks an answer.
        """
        queue = deque(events)
        learnt: list[Event] = []
        reacted = 0
        while queue and reacted < MAX_LEARNING_CHAIN:
            event = queue.popleft()
            reacted += 1
            for learner in self.learners:
                if not learner.wants(event):
                    continue
                try:
                    new = learner.react(event)
                except Exception:
                    logger.exception("the %s learner failed on %s", learner.name, event.type)
                    continue
                learnt += new
                queue.extend(new)
        return learnt

    def close(self) -> None:
        """Save pending projection state; close the sandbox, the LLM client, the store and
        the log."""
        try:
            self.engine.flush()
            if self._sandbox is not None:
                self._sandbox.close()
            if isinstance(self._llm, LLM):
                self._llm.close()
            vectors = self.__dict__.get("tool_vectors")
            if vectors is not None:
                vectors.close()
            self.store.close()
        finally:
            self.log.close()


def _state_or_none(runner: ProjectionRunner, name: str) -> Any:
    """A projection's state, or None when this app does not keep that projection (an app
    built with its own projection factory)."""
    try:
        return runner.state(name)
    except KeyError:
        return None
