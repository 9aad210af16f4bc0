"""The request family: one request's path from prompt to answer (topic ``selfeng.requests``).

Every event of a request has the request id as its key and the RequestReceived event id as
its correlation id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from selfeng.schemas.envelope import Event, Family
from selfeng.schemas.ids import uuid7


class RequestEvent(Event):
    """Base of the request family; the key is the request id."""

    family: ClassVar[Family] = "requests"

    policy_arm: str | None = None
    """The policy arm (fork) the request was served under; None for the live policies."""

    @property
    def request_id(self) -> str:
        """The request this event belongs to (its key)."""
        return self.key


class RequestReceived(RequestEvent):
    """A user or client asked something."""

    type: Literal["RequestReceived"] = "RequestReceived"
    schema_version: Literal[1] = 1
    prompt: str
    """What was asked, as written."""
    session_id: str | None = None
    """A conversation the request belongs to, if the client keeps one."""
    client: str = "unknown"
    """Which producer sent it: ``cli``, ``python``, ``http`` or a client's own name."""
    answered_inline: bool = False
    """The producer answers it in its own process; ``selfeng worker`` leaves it alone."""

    @classmethod
    def default_key(cls) -> str | None:
        """A new request id when the client gave none."""
        return str(uuid7())


class Candidate(BaseModel):
    """One tool considered by a search, with the parts of its score."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    tool: str
    """Tool name."""
    version: int
    """Tool version."""
    score: float
    """The final, re-ranked score."""
    similarity: float
    """Similarity of the request to the tool's retrieval representation."""
    success_rate: float = 0.0
    """The tool version's success rate when the search ran."""
    frequency: float = 0.0
    """The tool version's normalised use frequency when the search ran."""


class ToolSearched(RequestEvent):
    """The registry was searched for tools fitting the request."""

    type: Literal["ToolSearched"] = "ToolSearched"
    schema_version: Literal[1] = 1
    query: str
    """The text searched for (the request or one step of its plan)."""
    candidates: tuple[Candidate, ...] = ()
    """Candidates above the threshold, best first."""
    threshold: float
    """The retrieval threshold in force."""


class ArgumentsExtracted(RequestEvent):
    """Arguments for a tool were filled from the request."""

    type: Literal["ArgumentsExtracted"] = "ArgumentsExtracted"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int
    """Tool version."""
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    """Values by parameter name."""
    missing: tuple[str, ...] = ()
    """Required parameters no value was found for."""
    extractor: str = "offline"
    """Which extractor filled them (``offline`` or an LLM model name)."""


ErrorKind = Literal[
    "bad_arguments", "exception", "timeout", "memory", "resource_limit", "sandbox", "forbidden"
]
"""Why a tool execution failed."""


class ToolExecuted(RequestEvent):
    """A tool ran in a sandbox, successfully or not."""

    type: Literal["ToolExecuted"] = "ToolExecuted"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int
    """Tool version."""
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    """The arguments it ran with."""
    ok: bool
    """Whether it returned a result."""
    result: JsonValue = None
    """The result, when ``ok``."""
    error: str | None = None
    """The error message, when not ``ok``."""
    error_kind: ErrorKind | None = None
    """The class of failure, when not ``ok``."""
    duration_ms: float
    """Wall-clock time of the execution."""
    sandbox: str
    """The sandbox backend that ran it (``subprocess``, ``bwrap``, ``docker``)."""
    cacheable: bool = False
    """The tool version is deterministic, so this result may be served from the cache."""


class CacheHit(RequestEvent):
    """A deterministic tool's result was served from the execution cache."""

    type: Literal["CacheHit"] = "CacheHit"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int
    """Tool version."""
    cache_key: str
    """sha256 of tool, version and canonical arguments."""
    result: JsonValue = None
    """The cached result."""
    source_event_id: str | None = None
    """The ToolExecuted event the result was cached from."""


class ResponseSynthesized(RequestEvent):
    """The answer text was composed from the results."""

    type: Literal["ResponseSynthesized"] = "ResponseSynthesized"
    schema_version: Literal[1] = 1
    text: str
    """The answer for a person."""
    value: JsonValue = None
    """The raw result the answer is about."""


class Step(BaseModel):
    """One step of a completed request: what it asked, which tool answered, how it went."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    query: str
    """The text of the step (the whole request, or one part of its plan)."""
    template: str = ""
    """The text with its argument values replaced by ``{parameter}``: the phrasing learnt."""
    tool: str
    """The tool used."""
    version: int
    """Its version."""
    ok: bool
    """Whether the step produced a result."""
    cached: bool = False
    """Whether the result came from the execution cache."""
    duration_ms: float = 0.0
    """Time the step took."""
    handoff: str | None = None
    """The tool's parameter that received the previous step's output (a hand-off), if any."""


class RequestCompleted(RequestEvent):
    """The request is done: answered, or answered honestly that it could not be."""

    type: Literal["RequestCompleted"] = "RequestCompleted"
    schema_version: Literal[1] = 1
    ok: bool
    """Whether the request was answered with a tool result."""
    answer: str
    """The answer text."""
    value: JsonValue = None
    """The raw result."""
    tools: tuple[str, ...] = ()
    """The tools used, in order, as ``name@version``."""
    steps: tuple[Step, ...] = ()
    """The steps, in order: what the registry learns phrasings from and patterns are mined on."""
    cached: bool = False
    """Whether every tool result came from the cache."""
    duration_ms: float = 0.0
    """Time from RequestReceived to this event."""
    awaiting_tool: bool = False
    """A tool is being written for the request: a later RequestCompleted will answer it."""


class FeedbackGiven(RequestEvent):
    """A person rated an answer."""

    type: Literal["FeedbackGiven"] = "FeedbackGiven"
    schema_version: Literal[1] = 1
    rating: Literal["good", "bad"]
    """The rating."""
    comment: str = ""
    """Free text, optional."""
