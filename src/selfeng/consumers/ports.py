"""What a learner is given: read-only views of the tables, the log, the sandbox and the LLM.

A learner does not receive the runtime. It reads the projections it needs through views that
are caught up with the log, reads a key's history, appends what it learnt (with the expected
versions optimistic concurrency needs, when it appends in stages: propose, then verify), runs
code in the sandbox and calls the LLM. The one thing it may ask of the request side is to
answer a request again (the synthesizer, once the tool a request asked for is registered):
the runtime does that with its handler, so no learner re-enters the handler.

The embedded runtime (``Selfeng.ports``) builds them over its engine and handler; a test can
build them over a log and a projection engine without it. Nothing here imports the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import JsonValue

from selfeng.consumers.executing import HandlerState
from selfeng.core.llm import LLM
from selfeng.core.log import EventLog
from selfeng.core.mapper import DecodeError, from_record
from selfeng.core.sandbox import Sandbox
from selfeng.projections.registry import RegistryState
from selfeng.schemas import Event, RequestReceived


class LearnerPorts(Protocol):
    """The ports a learner (and the LLM planner) takes instead of the runtime."""

    # -- read-only views, caught up with the log ---------------------------------------------

    def registry(self) -> RegistryState:
        """The live registry (main)."""
        ...

    def policies(self, arm: str | None = None) -> Mapping[str, JsonValue]:
        """The policy values in force (or a fork's)."""
        ...

    def state(self, projection: str, arm: str | None = None) -> Any:
        """A named projection's live state (or a fork's)."""
        ...

    def handler_state(self, arm: str | None = None) -> HandlerState:
        """The projections the request handler reads for a policy arm (main when the arm
        names no live fork)."""
        ...

    def nearest_tools(self, text: str, k: int, arm: str | None = None) -> list[str]:
        """Up to ``k`` active tools the request handler's search finds nearest to ``text``
        (any score above 0), best first."""
        ...

    # -- the log -----------------------------------------------------------------------------

    def history(self, key: str) -> list[Event]:
        """A key's events, in log order (records that do not decode left out)."""
        ...

    def key_version(self, key: str) -> int:
        """How many records a key holds (the version ``expected_versions`` compares with)."""
        ...

    def record(
        self, events: Sequence[Event], *, expected_versions: Mapping[str, int] | None = None
    ) -> list[Event]:
        """Append ``events`` atomically; return them as the log holds them (an id already
        in the log gives the stored event, so a second reaction stores nothing twice).
        Raises ``ConcurrencyConflict`` when a key's version is not the one expected."""
        ...

    # -- the outside world -------------------------------------------------------------------

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox tools and their tests run in (raises ``SandboxUnavailable``)."""
        ...

    @property
    def llm(self) -> LLM | None:
        """The model, or None when none is configured."""
        ...

    # -- the request side --------------------------------------------------------------------

    def answer_again(
        self, received: RequestReceived, *, pinned: Mapping[str, str], attempt: str
    ) -> list[Event]:
        """Answer a request in the log again, ``pinned`` mapping a step's text to the tool
        that must answer it; ``attempt`` names this answer (its event ids derive from it).
        Return the answer's events as appended."""
        ...


def decoded_history(log: EventLog, key: str) -> list[Event]:
    """A key's decodable events, in log order: what ``LearnerPorts.history`` gives."""
    out: list[Event] = []
    for record in log.stream(key):
        try:
            out.append(from_record(record))
        except DecodeError:
            continue
    return out
