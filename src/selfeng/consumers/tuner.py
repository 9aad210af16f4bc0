"""The auto-tuner: proposes policy values, tries them on past requests, and puts the best
to a live experiment for the judge to decide.

Every ``tuning.every_requests`` completed requests (a policy; 0, the default, turns it off)
it takes a round: a small grid around the values in force for the policies a past request
can be answered again under (``retrieval.threshold``, ``answer.min_confidence``, and the
search's weights ``retrieval.use_weight`` and ``retrieval.nearest_use``), each
evaluated counterfactually on the last ``tuning.window`` requests
(``selfeng.consumers.counterfactual``), scored by success rate minus twice the wrong rate (a
wrong answer is worse than none). When the best candidate is estimated to gain at least
``tuning.min_improvement``, it appends an experiment, ``tune-ROUND``, with the control and
that candidate: its ``ExperimentStarted`` (``started_by: auto-tuner``) gives the estimates of
every candidate as its reason and evidence, and the judge concludes it like any other.

When no such candidate improves the answers, the round tries the composite-promotion
criteria (``composite.min_frequency`` less one, ``composite.min_success_rate`` and
``composite.min_confidence`` less 0.1): a composite changes how long an answer takes, not
what it is, so the share of past requests' time the candidate's composites would have saved
is estimated from their recorded steps (``selfeng.consumers.composite_replay``), and an
experiment on ``latency_ms``, guarded by the wrong and success rates, is started when it is
at least ``tuning.min_improvement``. The arm then promotes by its own criteria over its own
requests (``selfeng.consumers.composer``). When that gains nothing either, the round tries
the cache TTL (half, twice and four times the value in force): a TTL changes which lookups
hit, not what is answered, so it is estimated by replaying the log's cache lookups
(``selfeng.consumers.cache_replay``), and an experiment on ``cache_hit_rate``, guarded by the
wrong and success rates, is started when the best gains ``tuning.min_improvement``.

Rounds are counted from the ``events`` projection's count of ``RequestCompleted``, looked at
when the next round is due by that count (and every 50 answers while the tuner is off, so
turning it on takes effect within 50 answers); a round's
experiment is appended only while its name is unused, so two tuners (in process and in a
worker) start it once. The counterfactual needs the request handler: the runtime's ports
offer it (``Counterfactual``); ports that do not make the tuner do nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import JsonValue

from selfeng.consumers.cache_replay import CacheHistory, hit_rate
from selfeng.consumers.composite_replay import Saving, composite_saving
from selfeng.consumers.counterfactual import Simulation
from selfeng.consumers.judge import opening
from selfeng.consumers.learner import Learner
from selfeng.core.log import ConcurrencyConflict
from selfeng.core.policies import policy_float, policy_int, validate_policy
from selfeng.projections.events import EventCountsState
from selfeng.projections.experiments import ExperimentsState
from selfeng.projections.patterns import Criteria, PatternsState
from selfeng.schemas import Event, RequestCompleted
from selfeng.schemas.ids import derived_uuid7

STEPS: dict[str, tuple[float, ...]] = {
    "retrieval.threshold": (-0.1, -0.05, 0.05, 0.1),
    "answer.min_confidence": (-0.1, -0.05, 0.05, 0.1),
    "retrieval.use_weight": (-0.25, 0.25),
    "retrieval.nearest_use": (-0.1, 0.1),
}
"""The candidates of a round: each policy moved by each step (one policy at a time)."""
TTL_FACTORS: tuple[float, ...] = (0.5, 2.0, 4.0)
"""The cache TTL candidates of a round: the value in force times each factor."""
COMPOSITE_STEPS: dict[str, float] = {
    "composite.min_frequency": -1,
    "composite.min_success_rate": -0.1,
    "composite.min_confidence": -0.1,
}
"""The composite-promotion candidates of a round: each criterion loosened by its step (a
looser one can only add composites; a stricter one saves nothing to estimate)."""
CHECK_WHEN_OFF = 50
"""While the tuner is off, it looks at ``tuning.every_requests`` once per this many answers."""


@runtime_checkable
class Counterfactual(Protocol):
    """Ports that can answer past requests again under other policy values."""

    def counterfactual(
        self, candidates: Sequence[Mapping[str, JsonValue]], last: int
    ) -> list[Simulation]:
        """The last ``last`` requests answered again under each candidate's values (nothing
        is appended)."""
        ...

    def cache_history(self, last: int) -> CacheHistory:
        """The log's cache lookups, and the last ``last`` completed requests."""
        ...

    def answers(self, last: int) -> list[RequestCompleted]:
        """The last ``last`` completed requests' answers, oldest first."""
        ...


def score(rates: Mapping[str, float]) -> float:
    """What a round maximises: success rate minus twice the wrong rate."""
    return rates["success_rate"] - 2 * rates["wrong_rate"]


def ttl_candidates(policies: Mapping[str, JsonValue]) -> list[dict[str, JsonValue]]:
    """Each candidate: the cache TTL in force times a factor, kept if the policy accepts it."""
    current = policy_float(policies, "cache.ttl_seconds")
    out: list[dict[str, JsonValue]] = []
    for factor in TTL_FACTORS:
        value = round(current * factor, 3)
        if math.isclose(value, current):
            continue
        try:
            out.append({"cache.ttl_seconds": validate_policy("cache.ttl_seconds", value)})
        except ValueError:
            continue
    return out


def composite_candidates(policies: Mapping[str, JsonValue]) -> list[dict[str, JsonValue]]:
    """Each candidate: one composite-promotion criterion loosened by a step (a pattern
    needs at least two requests: one is no pattern)."""
    out: list[dict[str, JsonValue]] = []
    for name, step in COMPOSITE_STEPS.items():
        value: float | int = round(policy_float(policies, name) + step, 4)
        if name == "composite.min_frequency":
            value = int(value)
            if value < 2:
                continue
        try:
            out.append({name: validate_policy(name, value)})
        except ValueError:
            continue
    return out


def candidates(policies: Mapping[str, JsonValue]) -> list[dict[str, JsonValue]]:
    """Each candidate: one policy moved by one step, kept only if the policy accepts it."""
    out: list[dict[str, JsonValue]] = []
    for name, steps in STEPS.items():
        current = policy_float(policies, name)
        for step in steps:
            value = round(current + step, 4)
            if math.isclose(value, current):
                continue
            try:
                out.append({name: validate_policy(name, value)})
            except ValueError:
                continue
    return out


class Tuner(Learner):
    """Starts an experiment for the policy values past requests say would do better."""

    name: ClassVar[str] = "tuner"
    reacts_to: ClassVar[frozenset[str]] = frozenset({"RequestCompleted"})

    _evaluated: int = 0
    """The last round this process looked at (a cache, not state: a restart looks again)."""
    _skip: int = 0
    """Answers to let pass before looking at the policies again: the tuner costs nothing on
    most requests (it looks every ``tuning.every_requests`` answers, and every
    ``CHECK_WHEN_OFF`` while it is off)."""

    def wants(self, event: Event) -> bool:
        """A final answer (not one waiting for a tool), when it is time to look."""
        if not isinstance(event, RequestCompleted) or event.awaiting_tool:
            return False
        if self._skip > 0:
            self._skip -= 1
            return False
        return True

    def react(self, event: Event) -> list[Event]:
        """Take a round when one is due; the experiment it started, if any."""
        policies = self.ports.policies()
        try:
            every = policy_int(policies, "tuning.every_requests")
        except (KeyError, TypeError):
            every = 0
        if every <= 0 or not isinstance(self.ports, Counterfactual):
            self._skip = CHECK_WHEN_OFF - 1
            return []
        counts: EventCountsState = self.ports.state("events")
        completed = counts["by_type"].get("RequestCompleted", 0)
        self._skip = min(every - completed % every, CHECK_WHEN_OFF) - 1  # to the next round
        due = completed // every
        if due == 0 or due <= self._evaluated:
            return []
        self._evaluated = due
        name = f"tune-{due}"
        try:
            experiments: ExperimentsState = self.ports.state("experiments")
        except KeyError:
            return []
        if experiments["running"] or name in experiments["experiments"]:
            return []
        return self._round(name, policies, event)

    def _round(self, name: str, policies: Mapping[str, JsonValue], cause: Event) -> list[Event]:
        assert isinstance(self.ports, Counterfactual)
        window = policy_int(policies, "tuning.window")
        baseline: float | None = None
        tried: dict[str, JsonValue] = {}
        best: tuple[float, dict[str, JsonValue]] | None = None
        proposed = candidates(policies)
        results = self.ports.counterfactual(proposed, window)
        for candidate, result in zip(proposed, results, strict=True):
            estimate = result.estimate()
            if baseline is None:
                baseline = score({k: v["recorded"] for k, v in estimate.items()})
            gain = score({k: v["candidate"] for k, v in estimate.items()}) - baseline
            label = ", ".join(f"{k}={v}" for k, v in candidate.items())
            tried[label] = {"gain": round(gain, 6), "requests": result.recorded.requests}
            if best is None or gain > best[0]:
                best = (gain, candidate)
        enough = policy_float(policies, "tuning.min_improvement")
        if best is not None and best[0] >= enough:
            gain, values = best
            label = ", ".join(f"{k}={v}" for k, v in values.items())
            return self._start(
                name,
                cause,
                values,
                metric="success_rate",
                guardrails=("wrong_rate",),
                reason=f"auto-tuner: {label} estimated {gain:+.4f} on past requests "
                f"(success rate minus twice the wrong rate); candidates: {tried}",
                evidence=tried,
            )
        return self._composite_round(name, policies, cause, window, enough) or self._cache_round(
            name, policies, cause, window, enough
        )

    def _composite_round(
        self,
        name: str,
        policies: Mapping[str, JsonValue],
        cause: Event,
        window: int,
        enough: float,
    ) -> list[Event]:
        """When no candidate improves the answers: the composite-promotion criteria, whose
        saving of time past requests' recorded steps give
        (``selfeng.consumers.composite_replay``); an experiment on ``latency_ms``, guarded
        by the wrong and success rates."""
        assert isinstance(self.ports, Counterfactual)
        proposed = composite_candidates(policies)
        answers = self.ports.answers(window) if proposed else []
        if not answers:
            return []
        try:
            patterns: PatternsState = self.ports.state("patterns")
        except KeyError:
            return []
        current = Criteria.of(policies)
        tried: dict[str, JsonValue] = {}
        best: tuple[float, dict[str, JsonValue], Saving] | None = None
        for candidate in proposed:
            saving = composite_saving(
                answers, patterns, current, Criteria.of({**policies, **candidate})
            )
            label = ", ".join(f"{k}={v}" for k, v in candidate.items())
            tried[label] = {
                "gain": round(saving.share, 6),
                "saved_ms": round(saving.saved_ms, 3),
                "requests": saving.requests,
                "composed": saving.composed,
            }
            if best is None or saving.share > best[0]:
                best = (saving.share, candidate, saving)
        if best is None or best[0] < enough:
            return []
        gain, values, saving = best
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        return self._start(
            name,
            cause,
            values,
            metric="latency_ms",
            guardrails=("wrong_rate", "success_rate"),
            reason=f"auto-tuner: {label} estimated to save {gain:.2%} of the time of past "
            f"requests ({saving.saved_ms:.0f} ms over {saving.requests}: composites answering "
            f"{saving.composed} of them in one sandbox call); no candidate improved the "
            f"answers; candidates: {tried}",
            evidence=tried,
        )

    def _cache_round(
        self,
        name: str,
        policies: Mapping[str, JsonValue],
        cause: Event,
        window: int,
        enough: float,
    ) -> list[Event]:
        """When no candidate improves the answers: the cache TTL, whose effect on the cache
        hit rate the log's lookups replay exactly (``selfeng.consumers.cache_replay``); an
        experiment on ``cache_hit_rate``, guarded by the success and wrong rates."""
        assert isinstance(self.ports, Counterfactual)
        proposed = ttl_candidates(policies)
        if not proposed:
            return []
        history = self.ports.cache_history(window)
        if not history.requests:
            return []
        baseline = hit_rate(history, policy_float(policies, "cache.ttl_seconds"))
        tried: dict[str, JsonValue] = {}
        best: tuple[float, dict[str, JsonValue]] | None = None
        for candidate in proposed:
            gain = hit_rate(history, policy_float(candidate, "cache.ttl_seconds")) - baseline
            label = f"cache.ttl_seconds={candidate['cache.ttl_seconds']}"
            tried[label] = {"gain": round(gain, 6), "requests": len(history.requests)}
            if best is None or gain > best[0]:
                best = (gain, candidate)
        if best is None or best[0] < enough:
            return []
        gain, values = best
        return self._start(
            name,
            cause,
            values,
            metric="cache_hit_rate",
            guardrails=("wrong_rate", "success_rate"),
            reason=f"auto-tuner: cache.ttl_seconds={values['cache.ttl_seconds']} estimated "
            f"{gain:+.4f} cache hit rate on past requests (from {baseline:.4f}; the log's "
            f"lookups replayed); no candidate improved the answers; candidates: {tried}",
            evidence=tried,
        )

    def _start(
        self,
        name: str,
        cause: Event,
        values: dict[str, JsonValue],
        *,
        metric: str,
        guardrails: tuple[str, ...],
        reason: str,
        evidence: dict[str, JsonValue],
    ) -> list[Event]:
        """Append the experiment of a round: the control against ``values``, 50/50."""
        ms = int(cause.occurred_at.timestamp() * 1000)
        events = opening(
            name,
            {"control": {}, "candidate": values},
            "control",
            {"control": 0.5, "candidate": 0.5},
            event_id=lambda part: derived_uuid7(ms, str(cause.event_id), self.name, part),
            metric=metric,
            guardrails=guardrails,
            reason=reason,
            started_by="auto-tuner",
            evidence=evidence,
        )
        expected = {e.key: 0 for e in events}
        try:
            return self.ports.record(events, expected_versions=expected)
        except ConcurrencyConflict:
            return []
