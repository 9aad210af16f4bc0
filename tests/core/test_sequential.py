"""The always-valid sequential test: no evidence without a difference, and its bounds."""

from __future__ import annotations

import math
import random

from selfeng.core.sequential import Moments, compare


def bernoulli(n: int, p: float, rnd: random.Random) -> Moments:
    hits = sum(rnd.random() < p for _ in range(n))
    return Moments(n, hits, hits)


def test_equal_arms_give_no_evidence() -> None:
    a, b = Moments(500, 400, 400), Moments(500, 400, 400)
    result = compare(a, b, alpha=0.05, tau=0.05, proportion=True)
    assert result.difference == 0
    assert not result.significant
    assert result.p_value == 1.0
    assert result.low < 0 < result.high


def test_a_large_difference_is_significant_and_inside_its_confidence_sequence() -> None:
    a, b = Moments(2000, 1400, 1400), Moments(2000, 1700, 1700)
    result = compare(a, b, alpha=0.05, tau=0.05, proportion=True)
    assert result.significant
    assert result.p_value < 0.05
    assert result.low <= 0.15 <= result.high
    assert result.low > 0


def test_empty_arms_and_no_variation_are_safe() -> None:
    assert not compare(
        Moments(0, 0, 0), Moments(3, 3, 3), alpha=0.05, tau=0.1, proportion=True
    ).significant
    same = compare(Moments(50, 50, 50), Moments(50, 50, 50), alpha=0.05, tau=0.1, proportion=True)
    assert not same.significant
    assert math.isfinite(same.likelihood_ratio)


def test_means_use_each_arms_variance() -> None:
    rnd = random.Random(1)
    xs = [rnd.gauss(100, 10) for _ in range(400)]
    ys = [rnd.gauss(110, 10) for _ in range(400)]
    a = Moments(len(xs), sum(xs), sum(x * x for x in xs))
    b = Moments(len(ys), sum(ys), sum(y * y for y in ys))
    assert abs(a.variance - 100) < 25
    result = compare(a, b, alpha=0.05, tau=2.5, proportion=False)
    assert result.significant
    assert result.difference > 5


def test_looking_after_every_observation_keeps_false_positives_rare() -> None:
    rnd = random.Random(7)
    rejected = 0
    for _ in range(60):
        a_hits = b_hits = 0
        for n in range(1, 1501):
            a_hits += rnd.random() < 0.8
            b_hits += rnd.random() < 0.8
            if n >= 50 and n % 10 == 0:
                a, b = Moments(n, a_hits, a_hits), Moments(n, b_hits, b_hits)
                if compare(a, b, alpha=0.05, tau=0.05, proportion=True).significant:
                    rejected += 1
                    break
    assert rejected <= 6  # at most alpha (5%) of 60, with some room for chance
