"""The projections selfeng maintains, by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from selfeng.projections.base import AnyProjection, ForkSpec
from selfeng.projections.cache import CacheProjection
from selfeng.projections.events import EventCounts
from selfeng.projections.policies import PoliciesProjection
from selfeng.projections.registry import RegistryProjection

ProjectionFactory = Callable[[ForkSpec], Sequence[AnyProjection]]
"""Builds a fork's projections (policy-dependent ones read the fork's pinned values)."""


def default_projections(fork: ForkSpec) -> list[AnyProjection]:
    """Every projection selfeng keeps, for one fork."""
    return [PoliciesProjection(fork), EventCounts(), RegistryProjection(), CacheProjection()]


def projection_names(factory: ProjectionFactory = default_projections) -> list[str]:
    """The names of the projections a factory builds."""
    return [p.name for p in factory(ForkSpec())]
