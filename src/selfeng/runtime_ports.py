"""The runtime's ``LearnerPorts``: what the learners and the LLM planner are given instead
of the runtime itself (its views, log reads and appender, its sandbox and LLM, and its
request handler answering a request again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from selfeng.app import Selfeng
from selfeng.consumers.cache_replay import CacheHistory, cache_history
from selfeng.consumers.counterfactual import Simulation, past_requests, simulate
from selfeng.consumers.ports import decoded_history
from selfeng.consumers.request_handler import HandlerState
from selfeng.core.llm import LLM
from selfeng.core.sandbox import Sandbox
from selfeng.projections.registry import RegistryState
from selfeng.schemas import Event, RequestCompleted, RequestReceived


class RuntimePorts:
    """The runtime's ``LearnerPorts``: its views, log reads and appender, its sandbox and
    LLM, and its handler answering a request again. Learners get this, not the runtime."""

    def __init__(self, app: Selfeng) -> None:
        self._app = app

    def registry(self) -> RegistryState:
        return self._app.registry()

    def policies(self, arm: str | None = None) -> dict[str, JsonValue]:
        return self._app.policies(arm)

    def state(self, projection: str, arm: str | None = None) -> Any:
        return self._app.state(projection, arm)

    def handler_state(self, arm: str | None = None) -> HandlerState:
        return self._app.handler_state(arm)

    def nearest_tools(self, text: str, k: int, arm: str | None = None) -> list[str]:
        state = self._app.handler_state(arm)
        relaxed = {**state.policies, "retrieval.threshold": 0.0, "retrieval.top_k": k}
        with self._app.handling:  # the handler's search index
            search = self._app.handler_for(state.arm).search
            search.refresh(state.registry, state.policies)
            return [candidate.tool for candidate in search.search(text, relaxed)]

    def history(self, key: str) -> list[Event]:
        return decoded_history(self._app.log, key)

    def counterfactual(
        self, candidates: Sequence[Mapping[str, JsonValue]], last: int
    ) -> list[Simulation]:
        """The auto-tuner's port: past requests answered again under each candidate's
        values with the request handler (offline: no LLM), appending nothing. The handler's
        search is held one candidate at a time, so answers go on between candidates."""
        app = self._app
        past = past_requests(app.log, last)
        out = []
        for values in candidates:
            handler = app.replay_handler(values)
            with app.handling:
                out.append(simulate(handler, app.handler_state(), values, past))
        return out

    def cache_history(self, last: int) -> CacheHistory:
        """The auto-tuner's port for the cache TTL: the log's cache lookups replayed."""
        return cache_history(self._app.log, last)

    def answers(self, last: int) -> list[RequestCompleted]:
        """The auto-tuner's port for composite promotion: the last answers, as recorded."""
        return [past.completed for past in past_requests(self._app.log, last)]

    def key_version(self, key: str) -> int:
        return self._app.log.key_version(key)

    def record(
        self, events: Sequence[Event], *, expected_versions: Mapping[str, int] | None = None
    ) -> list[Event]:
        expected = dict(expected_versions) if expected_versions is not None else None
        return self._app.record(events, expected_versions=expected)

    @property
    def sandbox(self) -> Sandbox:
        return self._app.sandbox

    @property
    def llm(self) -> LLM | None:
        return self._app.llm

    def answer_again(
        self, received: RequestReceived, *, pinned: Mapping[str, str], attempt: str
    ) -> list[Event]:
        app = self._app
        received, state = app.served(received)
        with app.handling:
            handler = app.handler_for(state.arm)
            events = handler.handle(received, state, pinned=pinned, attempt=attempt)
        return app.record(events)
