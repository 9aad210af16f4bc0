"""Experiments: the judge's false-positive rate and power, and the cost of assignment.

Run: ``python bench/bench_experiments.py [EXPERIMENTS] [--requests N]``.

1. A/A: ``EXPERIMENTS`` (200) experiments whose two arms answer with the same success rate
   (0.80); each request's ``RequestCompleted`` (and a bad rating for 2% of answers, so the
   ``wrong_rate`` guardrail has something to see) is folded by the real ``experiments``
   projection, and the judge's verdict is taken after every request, as the judge does in a
   worker. A false positive is a verdict with a winner.
2. A/B: the same with a 5-point difference (0.80 against 0.85): the share of experiments that
   declare the better arm (power), that declare the worse one, and the median requests per
   arm to a verdict; experiments stop at ``max_samples`` (5,000 per arm).
3. Overhead: cached answers through the real handler and ``Agent.ask`` on four SQLite homes
   in one process: one with an A/A experiment running (two arms with the live policy values:
   assignment by session, arm-labelled events, the arms' folds, the experiments fold and the
   judge's look), two with none, whose difference is the noise of the measurement itself,
   and one whose second arm has a lower retrieval threshold (its answers weigh more
   candidates: what that arm does costs besides the experiment); asked in turn, in an order
   that rotates from round to round, and compared by the median of each round's difference.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from pydantic import JsonValue

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_answers import load, rate, run_pass
from common import table
from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.judge import verdict
from selfeng.consumers.tuner import Counterfactual
from selfeng.core.settings import Settings
from selfeng.projections.base import MAIN, FoldContext
from selfeng.projections.experiments import Experiment, ExperimentsProjection, moments
from selfeng.schemas import (
    Event,
    ExperimentStarted,
    FeedbackGiven,
    ForkCreated,
    PolicyChanged,
    RequestCompleted,
)

ARMS = {"control": "e.control", "better": "e.better"}


def started(min_samples: int, max_samples: int) -> ExperimentStarted:
    return ExperimentStarted(
        experiment="e",
        arms=ARMS,
        split={"control": 0.5, "better": 0.5},
        guardrails=("wrong_rate",),
        policies={"better": {"retrieval.threshold": 0.3}},
        min_samples=min_samples,
        max_samples=max_samples,
    )


def naive_z(experiment: Experiment) -> float:
    """The fixed-sample z statistic of the success rates, as a t-test-style peek would take."""
    a = moments(experiment["outcomes"]["control"], "success_rate")
    b = moments(experiment["outcomes"]["better"], "success_rate")
    pooled = (a.total + b.total) / (a.n + b.n)
    variance = pooled * (1 - pooled) * (1 / a.n + 1 / b.n)
    return (b.mean - a.mean) / math.sqrt(variance) if variance > 0 else 0.0


def simulate(
    rates: dict[str, float], rnd: random.Random, *, min_samples: int, max_samples: int
) -> tuple[str | None, int, bool]:
    """One experiment: (winner, requests per arm at the verdict, whether a fixed-sample
    z-test looked at after every request would have declared a difference at 5%)."""
    naive = False
    projection = ExperimentsProjection()
    state = projection.initial()
    ctx = FoldContext(MAIN, lambda name: None)
    state = projection.apply(state, started(min_samples, max_samples), ctx)
    i = 0
    while True:
        for arm, fork in ARMS.items():
            i += 1
            key = f"r{i}"
            ok = rnd.random() < rates[arm]
            events: list[Event] = [
                RequestCompleted.model_construct(
                    key=key, ok=ok, answer="a", policy_arm=fork, duration_ms=1.0, cached=False
                )
            ]
            if ok and rnd.random() < 0.02:
                events.append(FeedbackGiven.model_construct(key=key, rating="bad"))
            for event in events:
                state = projection.apply(state, event, ctx)
            experiment = state["experiments"]["e"]
            if experiment["outcomes"]["control"]["n"] < min_samples:
                continue
            naive = naive or abs(naive_z(experiment)) > 1.96
            ruling = verdict(experiment)
            if ruling.final:
                n = max(o["n"] for o in experiment["outcomes"].values())
                return ruling.winner, n, naive


def statistics_part(experiments: int, seed: int) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    rows: list[tuple[str, str]] = []
    started_at = time.perf_counter()
    aa = [
        simulate({"control": 0.8, "better": 0.8}, rnd, min_samples=100, max_samples=5000)
        for _ in range(experiments)
    ]
    false = sum(1 for winner, _, _ in aa if winner is not None)
    peeking = sum(1 for _, _, naive in aa if naive)
    rows.append(("A/A experiments", f"{experiments}"))
    rows.append(
        (
            "A/A with a winner (false positives)",
            f"{false} ({false / experiments:.1%}; alpha 5%)",
        )
    )
    rows.append(
        (
            "A/A where a z-test peeked at every request would find a difference",
            f"{peeking} ({peeking / experiments:.1%})",
        )
    )
    rows.append(
        (
            "A/A requests per arm (median; max 5,000)",
            f"{statistics.median(n for _, n, _ in aa):,.0f}",
        )
    )
    ab = [
        simulate({"control": 0.8, "better": 0.85}, rnd, min_samples=100, max_samples=5000)
        for _ in range(experiments)
    ]
    right = [n for winner, n, _ in ab if winner == "better"]
    wrong = sum(1 for winner, _, _ in ab if winner == "control")
    rows.append(("A/B 0.80 vs 0.85: better arm declared (power)", f"{len(right) / len(ab):.1%}"))
    rows.append(("A/B: worse arm declared", f"{wrong / len(ab):.1%}"))
    rows.append(
        (
            "A/B: requests per arm to a verdict (median, p90)",
            f"{statistics.median(right):,.0f}, {sorted(right)[int(len(right) * 0.9)]:,}"
            if right
            else "-",
        )
    )
    rows.append(("simulation time", f"{time.perf_counter() - started_at:.1f} s"))
    return rows


def overhead_part(rounds: int, per_round: int) -> list[tuple[str, str]]:
    """Three homes in one process: two with no experiment (their difference is the noise of
    the measurement) and one with an experiment running, asked in turn, in an order that
    rotates from round to round."""
    names = ("plain", "plain again", "experiment", "lenient arm")
    with tempfile.TemporaryDirectory(prefix="selfeng-bench-") as tmp:
        apps: dict[str, Selfeng] = {}
        for name in names:
            home = Path(tmp) / name.replace(" ", "-")
            app = Selfeng.open(Settings.resolve(home=home, sandbox="subprocess://", env={}))
            app.seed_tools()
            apps[name] = app
        # the overhead itself: two arms with the live policy values (an A/A test)
        apps["experiment"].append(
            [
                ForkCreated(fork=ARMS["control"]),
                ForkCreated(fork=ARMS["better"]),
                started(10**6, 10**6),
            ]
        )
        # and with one arm's policy changed: a lower threshold weighs more candidates, so
        # that arm's answers cost more for what the arm does, not for the experiment
        apps["lenient arm"].append(
            [
                ForkCreated(fork=ARMS["control"]),
                ForkCreated(fork=ARMS["better"], policies={"retrieval.threshold": 0.3}),
                started(10**6, 10**6),
            ]
        )
        agents = {name: Agent(app, client="bench") for name, app in apps.items()}
        samples: dict[str, list[float]] = {name: [] for name in names}
        paired: dict[str, list[float]] = {name: [] for name in names[1:]}
        try:
            for r in range(rounds + 1):
                # the order rotates, so no home always runs with a warmer cache
                order = names[r % len(names) :] + names[: r % len(names)]
                medians: dict[str, float] = {}
                for name in order:
                    times = []
                    for i in range(per_round):
                        start = time.perf_counter()
                        answer = agents[name].ask("What is 25% of 100?", session_id=f"{r}-{i}")
                        times.append((time.perf_counter() - start) * 1000)
                        assert answer.ok
                    medians[name] = statistics.median(times)
                    if r > 0:  # the first round warms them up
                        samples[name] += times
                if r > 0:
                    for name, differences in paired.items():
                        differences.append(medians[name] - medians["plain"])
            state = apps["experiment"].state("experiments")
            served = {arm: o["n"] for arm, o in state["experiments"]["e"]["outcomes"].items()}
        finally:
            for app in apps.values():
                app.close()
    base = statistics.median(samples["plain"])

    def difference(name: str) -> str:
        found = paired[name]
        diff = statistics.median(found)
        quartiles = statistics.quantiles(found, n=4) if len(found) > 1 else [diff] * 3
        return (
            f"{diff:+.3f} ms ({diff / base:+.1%}; rounds' quartiles "
            f"{quartiles[0] / base:+.1%} to {quartiles[2] / base:+.1%})"
        )

    return [
        ("cached answer, no experiment (median ms)", f"{base:.3f}"),
        (
            "cached answer, A/A experiment running (median ms)",
            f"{statistics.median(samples['experiment']):.3f}",
        ),
        ("overhead of assignment and arm folding (median of rounds)", difference("experiment")),
        ("noise: a second home with no experiment (median of rounds)", difference("plain again")),
        ("with one arm's threshold at 0.3 instead (median of rounds)", difference("lenient arm")),
        ("requests per arm", ", ".join(f"{a} {n}" for a, n in served.items())),
    ]


def counterfactual_part(candidates: list[dict[str, JsonValue]]) -> list[tuple[str, str]]:
    """The everyday requests of ``bench_answers`` answered and rated in one home; each
    candidate estimated there by ``experiment simulate``'s code; then a copy of that home
    (the same log: the same knowledge and ratings) with the candidate set answers the same
    requests again live, judged against the expected answers."""
    cases = load()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="selfeng-bench-") as tmp:
        recorded_home = Path(tmp) / "recorded"
        settings = Settings.resolve(home=recorded_home, sandbox="subprocess://", env={})
        with Selfeng.open(settings) as app:
            app.seed_tools()
            agent = Agent(app, client="bench")
            rate(agent, run_pass(agent, cases, ""))
            ports = app.ports
            assert isinstance(ports, Counterfactual)
            estimates = ports.counterfactual(candidates, len(cases))
        for i, (values, estimate) in enumerate(zip(candidates, estimates, strict=True)):
            live_home = Path(tmp) / f"live{i}"
            live_home.mkdir()
            for name in ("log.db", "log.db-wal"):
                if (recorded_home / name).exists():
                    shutil.copy(recorded_home / name, live_home / name)
            settings = Settings.resolve(home=live_home, sandbox="subprocess://", env={})
            with Selfeng.open(settings) as app:
                app.append([PolicyChanged(name=k, value=v) for k, v in values.items()])
                outcomes = run_pass(Agent(app, client="bench"), cases, "-live")
            verdicts = Counter(o.verdict for o in outcomes)
            n = len(outcomes)
            live = {
                "success_rate": verdicts["right"] / n,
                "wrong_rate": verdicts["wrong"] / n,
                "abstention_rate": verdicts["abstained"] / n,
            }
            label = ", ".join(f"{k}={v}" for k, v in values.items())
            for metric, row in estimate.estimate().items():
                rows.append(
                    (
                        f"{label}: {metric} recorded / estimated / live",
                        f"{row['recorded']:.3f} / {row['candidate']:.3f} / {live[metric]:.3f} "
                        f"(error {row['candidate'] - live[metric]:+.3f})",
                    )
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="?", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200, help="cached answers per round")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-counterfactual", action="store_true")
    args = parser.parse_args()
    rows = statistics_part(args.experiments, args.seed) if args.experiments > 0 else []
    if not args.skip_overhead:
        rows += overhead_part(args.rounds, args.requests)
    if not args.skip_counterfactual:
        rows += counterfactual_part([{"retrieval.threshold": 0.5}, {"answer.min_confidence": 0.95}])
    print(table(rows, ("measure", "value")))


if __name__ == "__main__":
    main()
