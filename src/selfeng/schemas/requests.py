"""The request family: one request's path from prompt to answer (topic ``selfeng.requests``).

Every event of a request has the request id as its key and the RequestReceived event id as
its correlation id.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from selfeng.schemas.envelope import Event, Family
from selfeng.schemas.ids import uuid7

_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_unicode(text: str) -> str:
    """Text a request can carry whatever its source: a lone surrogate (bytes that were not
    UTF-8 in a command line) becomes U+FFFD, so the event can always be stored."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


Text = Annotated[str, AfterValidator(_valid_unicode)]
"""A string whose characters can all be encoded as UTF-8."""


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
    prompt: Text
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


class Evidence(BaseModel):
    """Why one candidate tool was taken for a step of a request, or not."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    tool: str
    """Tool name."""
    version: int
    """Tool version."""
    score: float = 0.0
    """The search score."""
    margin: float = 0.0
    """How far the score is above the next candidate's (0 for the last one)."""
    confidence: float = 0.0
    """0..1: how sure the handler is that this tool, with these arguments, answers the step."""
    coverage: float = 0.0
    """The share of the step's words and values accounted for by the tool and its arguments."""
    intent: tuple[str, ...] = ()
    """The step's words that ask for what the tool does."""
    unexplained: tuple[str, ...] = ()
    """What in the step nothing accounts for."""
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    """The arguments found for it."""
    missing: tuple[str, ...] = ()
    """Required parameters with no value (or a value of the wrong type)."""
    template: str = ""
    """The step's wording with the arguments taken out: its phrasing."""
    confirmed_uses: int = 0
    """Times users (or confident answers) confirmed this tool for this phrasing."""
    rejected_uses: int = 0
    """Times users rated this tool's answer to this phrasing bad."""
    accepted: bool = False
    """Whether the handler took it."""
    reason: str = ""
    """Why, in one sentence."""


class ToolSearched(RequestEvent):
    """The registry was searched for tools fitting the request, and the candidates weighed."""

    type: Literal["ToolSearched"] = "ToolSearched"
    schema_version: Literal[1] = 1
    query: str
    """The text searched for (the request or one step of its plan)."""
    candidates: tuple[Candidate, ...] = ()
    """Candidates above the threshold, best first."""
    threshold: float
    """The retrieval threshold in force."""
    step: int = 0
    """Which step of the request's plan (0 for the first)."""
    evidence: tuple[Evidence, ...] = ()
    """The candidates weighed, in the order they were tried, with the evidence for each."""
    chosen: str | None = None
    """The tool taken for the step, if any."""
    min_confidence: float = 0.0
    """The confidence a candidate needed (policy ``answer.min_confidence``)."""


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
    step: int = 0
    """Which step of the request's plan (0 for the first)."""
    confidence: float | None = None
    """The handler's confidence in this tool and these arguments, when it weighed them."""


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
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    """The arguments the tool was given."""
    confidence: float = 0.0
    """The handler's confidence in the step (see ``Evidence``)."""
    confident: bool = False
    """Confident enough (policy ``learning.min_confidence``) that what it teaches is learnt
    without waiting for a user's rating; a bad rating takes it back."""
    answer: bool = True
    """Its output is part of the answer (not only handed to the next step)."""
    planner: str = "offline"
    """Who chose the tool and its arguments: ``offline`` (the handler's own evidence),
    ``template`` (a learnt plan), or ``llm:<model>`` (an LLM's plan)."""


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
    session_id: str | None = None
    """The conversation the request belongs to (from its RequestReceived)."""
    confidence: float = 0.0
    """The lowest confidence of its steps (0 when it was not answered)."""
    reason: str = ""
    """Why it was not answered, when ``ok`` is false."""
    policy_arm: str | None = None
    """The fork whose policies answered (None: main)."""
    arm_note: str = ""
    """Why the fork the request asked for did not answer it (unknown or dropped: main did)."""


class FeedbackGiven(RequestEvent):
    """A person rated an answer."""

    type: Literal["FeedbackGiven"] = "FeedbackGiven"
    schema_version: Literal[1] = 1
    rating: Literal["good", "bad"]
    """The rating."""
    comment: str = ""
    """Free text, optional."""


LessonStatus = Literal["none", "learnt", "confirmed", "rejected"]
"""What a step of an answer teaches: nothing; its phrasing and success, learnt because the
answer was confident (``learnt``) or because a user rated it good (``confirmed``); or that
its tool is wrong for its phrasing (``rejected``, a bad rating)."""


class FeedbackApplied(RequestEvent):
    """What a rating changed in what an answer taught: every projection that learns from
    answers (phrasings, stats, patterns, hand-offs, the cache, sessions) folds it."""

    type: Literal["FeedbackApplied"] = "FeedbackApplied"
    schema_version: Literal[1] = 1
    rating: Literal["good", "bad"]
    """The rating applied."""
    feedback_id: str
    """The FeedbackGiven event applied."""
    answer_id: str
    """The RequestCompleted event rated (the request's latest answer)."""
    steps: tuple[Step, ...] = ()
    """That answer's steps."""
    before: tuple[LessonStatus, ...] = ()
    """What each step taught before the rating."""
    after: tuple[LessonStatus, ...] = ()
    """What each step teaches from now on."""
    cache_keys: tuple[str, ...] = ()
    """Execution-cache entries the request produced or used, dropped on a bad rating."""
    session_id: str | None = None
    """The conversation of the request, if any."""
    summary: str = ""
    """What changed, for a person."""
    prompt: str = ""
    """The rated request as it was asked (empty in events written before it was kept)."""
    answer: str = ""
    """The rated answer as it was given: a bad rating keeps it from being given to the same
    request again, whichever tool would give it."""
