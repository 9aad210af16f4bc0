"""The learning family: what the learners concluded from use (``selfeng.learning``)."""

from __future__ import annotations

from typing import ClassVar, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from selfeng.schemas.envelope import Event, Family
from selfeng.schemas.requests import ErrorKind


class LearningEvent(Event):
    """Base of the learning family; the key is the tool or pattern it concerns."""

    family: ClassVar[Family] = "learning"


class PatternDetected(LearningEvent):
    """A recurring tool sequence crossed the composite-promotion policy."""

    key_field: ClassVar[str | None] = "pattern_id"
    type: Literal["PatternDetected"] = "PatternDetected"
    schema_version: Literal[1] = 1
    pattern_id: str
    """Stable id of the pattern: its tools joined by ``>``."""
    tools: tuple[str, ...]
    """The tool sequence."""
    kind: Literal["sequence", "pair", "subsequence"]
    """Whole request sequence, adjacent pair, or contiguous subsequence."""
    support: int
    """Completed requests that contained it."""
    success_rate: float
    """Share of those requests that succeeded."""
    confidence: float
    """How often the last tool followed the ones before it."""
    request_ids: tuple[str, ...] = ()
    """The requests that formed the pattern (the evidence)."""


class CompositeProposed(LearningEvent):
    """A composite tool was built from a pattern, not yet verified."""

    key_field: ClassVar[str | None] = "tool"
    type: Literal["CompositeProposed"] = "CompositeProposed"
    schema_version: Literal[1] = 1
    tool: str
    """Name of the composite."""
    members: tuple[str, ...]
    """The member tools, in order, as ``name@version``."""
    pattern_id: str
    """The pattern it was built from."""


class CompositeRegistered(LearningEvent):
    """A composite passed its tests (taken from recorded executions) and was registered."""

    key_field: ClassVar[str | None] = "tool"
    type: Literal["CompositeRegistered"] = "CompositeRegistered"
    schema_version: Literal[1] = 1
    tool: str
    """Name of the composite."""
    version: int
    """Its registered version."""
    members: tuple[str, ...]
    """The member tools, in order, as ``name@version``."""
    pattern_id: str
    """The pattern it was built from."""


class FailureAnalyzed(LearningEvent):
    """A failed execution was classified, with the evidence."""

    key_field: ClassVar[str | None] = "tool"
    type: Literal["FailureAnalyzed"] = "FailureAnalyzed"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int
    """The version that failed."""
    request_id: str
    """The request whose execution failed."""
    kind: ErrorKind
    """The class of failure."""
    evidence: str
    """The error and the arguments that produced it."""


class RepairProposed(LearningEvent):
    """A fix for a failing tool, with a minimal test that reproduces the failure."""

    key_field: ClassVar[str | None] = "tool"
    type: Literal["RepairProposed"] = "RepairProposed"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    from_version: int
    """The failing version."""
    code: str
    """The fixed source."""
    test: str
    """A minimal test that fails on ``from_version`` and passes on the fix."""
    rationale: str = ""
    """Why this fixes it."""
    details: dict[str, JsonValue] | None = None
    """Model, tokens and other facts about how the fix was produced."""


class ToolRepaired(LearningEvent):
    """A repair passed every test of the tool plus its own and was registered as a new version."""

    key_field: ClassVar[str | None] = "tool"
    type: Literal["ToolRepaired"] = "ToolRepaired"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    from_version: int
    """The failing version."""
    to_version: int
    """The repaired version, now active."""


LLMPurpose = Literal["synthesis", "acceptance", "repair", "planning", "other"]
"""What an LLM call was for."""

ToolChoice = Literal["auto", "required", "none"]
"""Whether the model may (``auto``), must (``required``) or must not (``none``) call a
function it was offered."""

FUNCTION_NAME_PATTERN: Final[str] = r"^[A-Za-z0-9_-]{1,64}$"
"""What the OpenAI API accepts as a function name."""


def _empty_object_schema() -> dict[str, JsonValue]:
    return {"type": "object", "properties": {}}


class FunctionSpec(BaseModel):
    """A function offered to the model for tool calling (an OpenAI ``tools`` entry)."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    name: str = Field(pattern=FUNCTION_NAME_PATTERN)
    """Its name: letters, digits, ``_`` and ``-``, at most 64 (the OpenAI API's rule)."""
    description: str = ""
    """What it does; the model reads it to decide whether and how to call it."""
    parameters: dict[str, JsonValue] = Field(default_factory=_empty_object_schema)
    """Its arguments, as a JSON Schema object (default: none)."""


class ToolCall(BaseModel):
    """A function call the model made, its arguments parsed."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    id: str
    """The call's id, as the server gave it; the ``tool`` message with its result names it."""
    name: str
    """The function called."""
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    """The arguments, parsed from the JSON object the model wrote."""


class ChatMessage(BaseModel):
    """One message of a chat prompt."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    role: Literal["system", "user", "assistant", "tool"]
    """Who says it (``tool``: the result of a function call, replayed to the model)."""
    content: str
    """What is said (for an assistant message that only calls functions: empty)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The functions an assistant message called."""
    tool_call_id: str | None = None
    """For a ``tool`` message: the id of the call whose result ``content`` is."""

    @model_validator(mode="after")
    def _tool_fields_fit_the_role(self) -> Self:
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only an assistant message calls functions, not a {self.role} one")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool message, and only a tool message, names a tool_call_id")
        return self


class LLMCalled(LearningEvent):
    """A call to the LLM: the prompt, the answer, the model, the tokens and the time it took.

    The key is the budget the call is charged to: the request id for a synthesis, the tool
    for a repair. The cost-limit policies are enforced by counting these events.
    """

    key_field: ClassVar[str | None] = "subject"
    type: Literal["LLMCalled"] = "LLMCalled"
    schema_version: Literal[1] = 1
    subject: str
    """The budget it is charged to (a request id, or ``repair:<tool>@<version>``)."""
    purpose: LLMPurpose
    """What it was for."""
    attempt: int = 1
    """Which attempt of that purpose for that subject (1 for the first)."""
    model: str
    """The model that answered (as the server named it)."""
    messages: tuple[ChatMessage, ...]
    """The prompt."""
    response: str = ""
    """The answer's text (empty when the call failed)."""
    prompt_tokens: int = 0
    """Tokens of the prompt."""
    completion_tokens: int = 0
    """Tokens of the answer."""
    latency_ms: float = 0.0
    """Wall-clock time of the call."""
    ok: bool = True
    """Whether an answer came back."""
    error: str | None = None
    """What went wrong, when not ``ok``."""
    tools: tuple[FunctionSpec, ...] = ()
    """The functions offered to the model (none: a plain completion); a planning call names
    the registered tools it offered without repeating their schemas."""
    tool_choice: ToolChoice | None = None
    """Whether it had to call one of them (None: the server's default, ``auto``)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The function calls the model answered with, arguments parsed (``response`` is then
    often empty)."""

    @property
    def total_tokens(self) -> int:
        """Prompt and answer tokens together."""
        return self.prompt_tokens + self.completion_tokens
