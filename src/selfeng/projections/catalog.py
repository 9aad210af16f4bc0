"""The projections selfeng maintains, by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from selfeng.projections.arms import ArmLessonsProjection
from selfeng.projections.base import AnyProjection, ForkSpec
from selfeng.projections.cache import CacheProjection
from selfeng.projections.events import EventCounts
from selfeng.projections.experiments import ExperimentsProjection
from selfeng.projections.llm_usage import LLMUsageProjection
from selfeng.projections.patterns import PatternsProjection
from selfeng.projections.plans import PlansProjection
from selfeng.projections.policies import PoliciesProjection
from selfeng.projections.registry import RegistryProjection
from selfeng.projections.sessions import SessionsProjection
from selfeng.projections.skill_graph import SkillGraphProjection
from selfeng.projections.synthesis import SynthesisProjection

ProjectionFactory = Callable[[ForkSpec], Sequence[AnyProjection]]
"""Builds a fork's projections (policy-dependent ones read the fork's pinned values)."""


def default_projections(fork: ForkSpec) -> list[AnyProjection]:
    """Every projection selfeng keeps, for one fork."""
    return [
        PoliciesProjection(fork),
        EventCounts(),
        RegistryProjection(),
        CacheProjection(),
        SkillGraphProjection(),
        PatternsProjection(),
        LLMUsageProjection(),
        SynthesisProjection(),
        SessionsProjection(),
        PlansProjection(),
        ExperimentsProjection(),
        ArmLessonsProjection(fork.name),
    ]


def projection_names(factory: ProjectionFactory = default_projections) -> list[str]:
    """The names of the projections a factory builds."""
    return [p.name for p in factory(ForkSpec())]
