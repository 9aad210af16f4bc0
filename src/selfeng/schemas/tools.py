"""The tools family: how a tool reaches, changes in and leaves the registry (``selfeng.tools``).

A tool reaches the registry only through ToolProposed -> ToolVerified -> ToolRegistered.
The key is the tool name, except for synthesis requests, which are keyed by request id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from selfeng.schemas.envelope import Event, Family


class ToolEvent(Event):
    """Base of the tools family; the key is the tool name."""

    family: ClassVar[Family] = "tools"
    key_field: ClassVar[str | None] = "tool"


class CompositeMember(BaseModel):
    """One member tool of a composite, and how its parameters are fed."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    tool: str
    """The member tool's name."""
    version: int
    """The member version the composite embeds."""
    arguments: dict[str, str] = Field(default_factory=dict)
    """The composite's parameter that feeds each of the member's parameters (member -> own)."""
    handoff: str | None = None
    """The member's parameter that receives the previous member's output (None for the first)."""


class ToolSpec(BaseModel):
    """What a tool does and what it takes and returns."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    description: str
    """What the tool does, for people and for retrieval."""
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    """JSON Schema of the inputs (an object schema)."""
    returns: dict[str, JsonValue] = Field(default_factory=dict)
    """JSON Schema of the output."""
    deterministic: bool = True
    """Whether equal arguments always give equal results (so results may be cached)."""
    composition: tuple[CompositeMember, ...] = ()
    """For a composite tool: its members in order; empty for an ordinary tool."""


class TestReport(BaseModel):
    """The outcome of running a tool's tests in a sandbox."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    passed: int
    """Tests that passed."""
    failed: int
    """Tests that failed or errored."""
    output: str = ""
    """What the test run printed (truncated)."""
    duration_ms: float = 0.0
    """Wall-clock time of the run."""
    sandbox: str = ""
    """The sandbox backend that ran it."""


ToolOrigin = Literal["human", "seed", "llm", "composite", "repair"]
"""Who wrote a tool version."""


class ToolSynthesisRequested(Event):
    """No registered tool fits a request; one should be written."""

    family: ClassVar[Family] = "tools"
    key_field: ClassVar[str | None] = "request_id"
    type: Literal["ToolSynthesisRequested"] = "ToolSynthesisRequested"
    schema_version: Literal[1] = 1
    request_id: str
    """The request that found no tool."""
    need: str
    """What the missing tool should do (the request or one step of its plan)."""
    best_score: float | None = None
    """The best candidate's score, below the threshold."""
    reason: str = ""
    """Why no registered tool would do (the evidence against the closest one)."""


class ToolProposed(ToolEvent):
    """A new tool version: spec, code and tests, not yet verified."""

    type: Literal["ToolProposed"] = "ToolProposed"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name (a Python identifier)."""
    version: int
    """The proposed version, one more than the highest so far."""
    spec: ToolSpec
    """What it does, takes and returns."""
    code: str
    """Python source defining a function named like the tool."""
    tests: str
    """Python source of its tests."""
    origin: ToolOrigin = "human"
    """Who wrote it."""


class ToolVerified(ToolEvent):
    """A proposed version's tests passed in the sandbox."""

    type: Literal["ToolVerified"] = "ToolVerified"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int
    """The verified version."""
    report: TestReport
    """The test run."""


class ToolRejected(ToolEvent):
    """A proposed version failed its tests (or could not be run) and will not be registered."""

    type: Literal["ToolRejected"] = "ToolRejected"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int
    """The rejected version."""
    reason: str
    """Why, in one line."""
    report: TestReport | None = None
    """The test run, if one happened."""


class ToolRegistered(ToolEvent):
    """A verified version is now in the registry and may be used."""

    type: Literal["ToolRegistered"] = "ToolRegistered"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int
    """The registered version; it becomes the active one."""


class ToolDeprecated(ToolEvent):
    """A tool (or one version of it) should no longer be used."""

    type: Literal["ToolDeprecated"] = "ToolDeprecated"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    version: int | None = None
    """The deprecated version, or None for every version."""
    reason: str
    """Why."""


class ToolRolledBack(ToolEvent):
    """The active version of a tool went back to an earlier one."""

    type: Literal["ToolRolledBack"] = "ToolRolledBack"
    schema_version: Literal[1] = 1
    tool: str
    """Tool name."""
    from_version: int
    """The version that was active."""
    to_version: int
    """The version that is active now."""
    reason: str
    """Why."""
