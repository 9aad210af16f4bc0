"""The composite-promotion estimate: the time another policy's composites would have saved."""

from __future__ import annotations

import pytest

from selfeng.consumers.composite_replay import composite_saving
from selfeng.projections.patterns import Criteria
from selfeng.schemas import RequestCompleted, Step, uuid7
from tests.projections.test_patterns import fold

IN_FORCE = Criteria(min_frequency=3, min_success_rate=0.8, min_confidence=0.7)
LOOSER = Criteria(min_frequency=2, min_success_rate=0.8, min_confidence=0.7)


def answer(*steps: tuple[str, float, bool], total: float = 100.0) -> RequestCompleted:
    """A completed request whose steps are (tool, sandbox ms, cached)."""
    return RequestCompleted(
        key=str(uuid7()),
        ok=True,
        answer="x",
        duration_ms=total,
        steps=tuple(
            Step(query="q", tool=t, version=1, ok=True, confident=True, duration_ms=ms, cached=c)
            for t, ms, c in steps
        ),
    )


def test_a_run_the_looser_criteria_promote_saves_all_but_its_longest_step() -> None:
    past = [
        answer(("a", 30.0, False), ("b", 20.0, False), ("c", 5.0, False)),
        answer(("a", 40.0, False), ("b", 10.0, False)),
        answer(("x", 50.0, False)),
    ]
    patterns = fold(past)  # a>b seen twice: the looser criteria promote it, 3 do not
    saving = composite_saving(past, patterns, IN_FORCE, LOOSER)
    assert saving.requests == 3
    assert saving.composed == 2
    assert saving.saved_ms == pytest.approx(20.0 + 10.0)
    assert saving.share == pytest.approx(30.0 / 300.0)
    assert composite_saving(past, patterns, IN_FORCE, IN_FORCE).saved_ms == 0.0
    # what the criteria in force promote already is not the candidate's saving
    assert composite_saving(past, patterns, LOOSER, LOOSER).saved_ms == 0.0


def test_cached_steps_cost_nothing_to_save() -> None:
    past = [
        answer(("a", 0.0, True), ("b", 20.0, False)),
        answer(("a", 0.0, True), ("b", 0.0, True)),
    ]
    saving = composite_saving(past, fold(past), IN_FORCE, LOOSER)
    assert saving.saved_ms == 0.0
    assert saving.composed == 0


def test_a_failed_pattern_is_not_promoted_by_frequency_alone() -> None:
    past = [answer(("a", 30.0, False), ("b", 20.0, False)) for _ in range(2)]
    failed = [
        RequestCompleted(key=str(uuid7()), ok=False, answer="", steps=p.steps, duration_ms=1.0)
        for p in past
    ]
    saving = composite_saving(past, fold(failed), IN_FORCE, LOOSER)
    assert saving.saved_ms == 0.0  # a success rate of 0 meets no criteria
