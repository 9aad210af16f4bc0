"""An always-valid sequential test for the difference of two means (mSPRT).

The mixture sequential probability ratio test (Robbins 1970; Johari, Pekelis and Walsh,
"Always valid inference", 2017) compares two arms' means (a proportion is the mean of a
0/1 outcome) and may be looked at after every observation: the chance that it ever declares
a difference between two arms that have none is at most ``alpha``, however often it is
looked at and however long it runs. A fixed-sample test looked at after every request would
declare most A/A experiments significant.

With the difference of the means ``d`` estimated with variance ``V`` (the two arms'
variances over their counts) and a normal mixing distribution ``N(0, tau^2)`` over the true
difference, the mixture likelihood ratio is

    L = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))

and the test rejects "no difference" once ``L >= 1 / alpha``. ``1 / L`` (never above 1) is
the always-valid p-value at that look, and inverting the test gives an always-valid
confidence sequence for the difference: ``d +- sqrt(V (V + tau^2) / tau^2 *
(2 log(1 / alpha) + log((V + tau^2) / V)))``. ``tau`` says what size of difference the test
is most ready for; the default, 0.1 of the metric's scale for proportions, suits differences
of a few points over thousands of requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import JsonValue

MIN_VARIANCE = 1e-12
"""A floor for the variance estimate: two arms that have shown no variation yet still give a
finite statistic (and no evidence)."""


@dataclass(frozen=True)
class Moments:
    """What an arm has observed of one metric: the count, the sum and the sum of squares."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        """The mean (0 with no observations)."""
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance (0 with fewer than two observations)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Comparison:
    """The mSPRT of arm B against arm A on one metric, at one look."""

    difference: float
    """Mean of B minus mean of A."""
    likelihood_ratio: float
    """The mixture likelihood ratio (``inf`` when it overflows)."""
    p_value: float
    """``min(1, 1 / likelihood_ratio)``: always valid."""
    low: float
    """The lower end of the always-valid confidence sequence for the difference."""
    high: float
    """The upper end."""
    significant: bool
    """Whether ``likelihood_ratio >= 1 / alpha``."""

    def as_dict(self) -> dict[str, JsonValue]:
        """JSON-able, rounded for people."""
        return {
            "difference": round(self.difference, 6),
            "likelihood_ratio": round(self.likelihood_ratio, 6)
            if math.isfinite(self.likelihood_ratio)
            else 1e300,
            "p_value": round(self.p_value, 6),
            "low": round(self.low, 6),
            "high": round(self.high, 6),
            "significant": self.significant,
        }


def compare(
    a: Moments,
    b: Moments,
    *,
    alpha: float,
    tau: float,
    proportion: bool,
) -> Comparison:
    """The mSPRT of B against A. For a proportion the variance is the pooled one (what it is
    when there is no difference); otherwise each arm's sample variance."""
    if a.n == 0 or b.n == 0:
        return Comparison(b.mean - a.mean, 0.0, 1.0, -math.inf, math.inf, False)
    difference = b.mean - a.mean
    if proportion:
        pooled = (a.total + b.total) / (a.n + b.n)
        variance = pooled * (1.0 - pooled) * (1.0 / a.n + 1.0 / b.n)
    else:
        variance = a.variance / a.n + b.variance / b.n
    variance = max(variance, MIN_VARIANCE)
    tau2 = tau * tau
    exponent = tau2 * difference * difference / (2.0 * variance * (variance + tau2))
    log_ratio = 0.5 * math.log(variance / (variance + tau2)) + exponent
    ratio = math.exp(log_ratio) if log_ratio < 700 else math.inf
    p_value = min(1.0, math.exp(-log_ratio)) if log_ratio > -700 else 1.0
    width = math.sqrt(
        variance
        * (variance + tau2)
        / tau2
        * (2.0 * math.log(1.0 / alpha) + math.log((variance + tau2) / variance))
    )
    return Comparison(
        difference=difference,
        likelihood_ratio=ratio,
        p_value=p_value,
        low=difference - width,
        high=difference + width,
        significant=log_ratio >= math.log(1.0 / alpha),
    )
