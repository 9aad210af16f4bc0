"""The policy family: policy values, forks and experiments (``selfeng.policy``)."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, JsonValue, StringConstraints

from selfeng.schemas.envelope import Event, Family


class PolicyEvent(Event):
    """Base of the policy family."""

    family: ClassVar[Family] = "policy"


class PolicyChanged(PolicyEvent):
    """A policy took a new value.

    Version 1 (the seed's shape) named the policy ``policy``; version 2 calls it ``name``
    and records why it changed. The upcaster in ``selfeng.schemas.upcasting`` converts.
    """

    key_field: ClassVar[str | None] = "name"
    type: Literal["PolicyChanged"] = "PolicyChanged"
    schema_version: Literal[2] = 2
    name: str
    """The policy, e.g. ``retrieval.threshold``."""
    value: JsonValue
    """The new value."""
    reason: str = ""
    """Why it changed."""
    changed_by: str = "user"
    """Who changed it: ``user``, ``auto-tuner``, ``experiment-judge``."""


class PolicyRolledBack(PolicyEvent):
    """A policy went back to the value it had at an earlier version."""

    key_field: ClassVar[str | None] = "name"
    type: Literal["PolicyRolledBack"] = "PolicyRolledBack"
    schema_version: Literal[1] = 1
    name: str
    """The policy."""
    to_version: int
    """The version whose value is restored."""
    reason: str = ""
    """Why."""


FORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a fork's name looks like (whole)."""
ForkName = Annotated[str, StringConstraints(pattern=f"^{FORK_NAME.pattern}$")]
"""A fork's name: 1 to 64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or
digit (it names files and topics: never a path, never empty)."""


class ForkCreated(PolicyEvent):
    """A named copy of the projections, built from the same log under other policy values."""

    key_field: ClassVar[str | None] = "fork"
    type: Literal["ForkCreated"] = "ForkCreated"
    schema_version: Literal[1] = 1
    fork: ForkName
    """The fork's name."""
    policies: dict[str, JsonValue] = Field(default_factory=dict)
    """Policy values pinned in this fork, by policy name."""
    reason: str = ""
    """Why it was created."""


class ForkDropped(PolicyEvent):
    """A fork is no longer maintained."""

    key_field: ClassVar[str | None] = "fork"
    type: Literal["ForkDropped"] = "ForkDropped"
    schema_version: Literal[1] = 1
    fork: ForkName
    """The fork's name."""


class ExperimentStarted(PolicyEvent):
    """An A/B test between forks began."""

    key_field: ClassVar[str | None] = "experiment"
    type: Literal["ExperimentStarted"] = "ExperimentStarted"
    schema_version: Literal[1] = 1
    experiment: str
    """The experiment's name."""
    arms: dict[str, str]
    """Arm name -> fork name (``main`` is the live policy values)."""
    split: dict[str, float]
    """Arm name -> share of live traffic (sums to 1); empty for a counterfactual replay."""
    metric: str = "success_rate"
    """What is compared."""
    guardrails: tuple[str, ...] = ()
    """Metrics an arm must not make significantly worse to win (``wrong_rate``, ...)."""
    policies: dict[str, dict[str, JsonValue]] = Field(default_factory=dict)
    """Arm name -> the policy values its fork pins (the control pins none)."""
    control: str = "control"
    """The arm that keeps the live policies (its fork is ``main``)."""
    min_samples: int = Field(default=100, ge=1)
    """Completed requests every arm needs before the judge may conclude."""
    max_samples: int = Field(default=10_000, ge=1)
    """Completed requests per arm after which the judge concludes with no winner (the
    experiment's maximum duration)."""
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    """The false-positive rate the judge's sequential test keeps, however often it looks."""
    reason: str = ""
    """Why the experiment was started."""
    started_by: str = "user"
    """Who started it: ``user``, ``auto-tuner``."""
    evidence: dict[str, JsonValue] = Field(default_factory=dict)
    """What it was started on: the auto-tuner's counterfactual estimate for each candidate."""


class ExperimentConcluded(PolicyEvent):
    """An A/B test ended with statistics and, if significant, a winner."""

    key_field: ClassVar[str | None] = "experiment"
    type: Literal["ExperimentConcluded"] = "ExperimentConcluded"
    schema_version: Literal[1] = 1
    experiment: str
    """The experiment's name."""
    stats: dict[str, JsonValue] = Field(default_factory=dict)
    """Per-arm counts and metric values, the test used and its p-value."""
    winner: str | None = None
    """The winning arm, or None when no difference was significant."""
    reason: str = ""
    """Why it ended: a significant difference, a guardrail, the maximum samples, a person."""
    decided_by: str = "experiment-judge"
    """Who ended it: ``experiment-judge`` or ``user`` (``selfeng experiment stop|promote``)."""
    promoted: dict[str, JsonValue] = Field(default_factory=dict)
    """The policy values the winner's arm brings to main (empty when the control won)."""
