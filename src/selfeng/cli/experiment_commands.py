"""``selfeng experiment start|list|show|stop|promote``: A/B tests between policy arms.

An experiment is events: ``experiment start`` appends a ``ForkCreated`` for each arm but the
control (the control is main) and the ``ExperimentStarted`` that names them, in one atomic
append; from then on each request is assigned an arm by its session (or request) id, the
``experiments`` projection keeps each arm's outcomes and the judge (a learner) concludes.
``stop`` and ``promote`` conclude by hand.
"""

from __future__ import annotations

import math
import re

import click
from pydantic import JsonValue
from rich.table import Table

from selfeng.cli import Context
from selfeng.cli.render import CliProgress, console, print_json
from selfeng.consumers.counterfactual import past_requests, simulate
from selfeng.consumers.judge import Verdict, conclusion, describe, opening, verdict
from selfeng.core.policies import parse_policy_assignment
from selfeng.projections.experiments import (
    METRICS,
    Experiment,
    ExperimentsState,
    summary,
)
from selfeng.schemas import Event, PolicyChanged
from selfeng.schemas.policy import FORK_NAME

pass_context = click.make_pass_decorator(Context)

EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
"""An experiment's name (whole): its arms' forks are named ``NAME.ARM``."""
ARM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,22}")
"""An arm's name (whole)."""


def parse_arms(specs: tuple[str, ...]) -> tuple[str, dict[str, dict[str, JsonValue]]]:
    """``control`` or ``NAME:POLICY=VALUE`` (repeat an arm to pin several policies) -> the
    control arm and each arm's pinned policies, in the order given. The one arm that pins
    nothing is the control. Raises ValueError saying what is wrong."""
    arms: dict[str, dict[str, JsonValue]] = {}
    for spec in specs:
        name, colon, assignment = spec.partition(":")
        name = name.strip()
        if not ARM_NAME.fullmatch(name):
            raise ValueError(f"{name!r}: an arm's name is 1 to 23 letters, digits, '_' or '-'")
        pins = arms.setdefault(name, {})
        if colon:
            policy, value = parse_policy_assignment(assignment)
            pins[policy] = value
    controls = [name for name, pins in arms.items() if not pins]
    if len(arms) < 2:
        raise ValueError("an experiment needs at least two arms, e.g. --arm control --arm b:K=V")
    if len(controls) != 1:
        raise ValueError(
            "exactly one arm must pin no policy (the control, served by main); "
            f"{'none does' if not controls else ', '.join(controls) + ' pin none'}"
        )
    return controls[0], arms


def parse_split(text: str | None, arms: list[str]) -> dict[str, float]:
    """``50/50`` (or ``0.9/0.1``: any positive numbers, one per arm in order, normalised);
    an even split without one."""
    if text is None:
        return {arm: 1 / len(arms) for arm in arms}
    parts = text.split("/")
    if len(parts) != len(arms):
        raise ValueError(f"{text!r}: give one share per arm ({len(arms)}), such as 50/50")
    try:
        shares = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{text!r}: shares are numbers, such as 50/50") from None
    if any(not math.isfinite(s) or s <= 0 for s in shares):
        raise ValueError(f"{text!r}: every share must be a positive number")
    total = math.fsum(shares)
    return {arm: share / total for arm, share in zip(arms, shares, strict=True)}


def _state(ctx: Context) -> ExperimentsState:
    state: ExperimentsState = ctx.app.engine.state("experiments")
    return state


def _get(ctx: Context, name: str) -> Experiment:
    experiment = _state(ctx)["experiments"].get(name)
    if experiment is None:
        raise click.ClickException(f"no experiment {name!r}; see `selfeng experiment list`")
    return experiment


@click.group("experiment")
def experiment() -> None:
    """A/B tests between policy arms: each arm a fork, traffic split by session."""


@experiment.command("start")
@click.argument("name")
@click.option(
    "--arm",
    "arm_specs",
    multiple=True,
    required=True,
    metavar="ARM[:POLICY=VALUE]",
    help="An arm (repeatable): `control` (pins nothing: main serves it) or "
    "`lenient:retrieval.threshold=0.3`; repeat an arm to pin several policies.",
)
@click.option("--split", default=None, help="Shares of traffic per arm, in order: 50/50, 90/10.")
@click.option(
    "--metric",
    default="success_rate",
    show_default=True,
    type=click.Choice(list(METRICS)),
    help="What decides the winner.",
)
@click.option(
    "--guardrail",
    "guardrails",
    multiple=True,
    type=click.Choice(list(METRICS)),
    help="A metric the winner must not make significantly worse (repeatable; default wrong_rate).",
)
@click.option("--min-samples", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--max-samples", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--alpha",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
)
@click.option("--reason", default="", help="Why.")
@click.option("--json", "as_json", is_flag=True, help="Print the experiment as JSON.")
@pass_context
def start(
    ctx: Context,
    name: str,
    arm_specs: tuple[str, ...],
    split: str | None,
    metric: str,
    guardrails: tuple[str, ...],
    min_samples: int,
    max_samples: int,
    alpha: float,
    reason: str,
    as_json: bool,
) -> None:
    """Start experiment NAME: a fork per arm (the control is main), traffic split by session."""
    if not EXPERIMENT_NAME.fullmatch(name):
        raise click.BadParameter(
            f"{name[:60]!r}: 1 to 40 letters, digits, '_' or '-'", param_hint="NAME"
        )
    try:
        control, arms = parse_arms(arm_specs)
        shares = parse_split(split, list(arms))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if max_samples < min_samples:
        raise click.BadParameter("--max-samples is below --min-samples")
    forks = {arm: f"{name}.{arm}" for arm in arms}
    assert all(FORK_NAME.fullmatch(f) for f in forks.values())
    app = ctx.app
    expected = {key: app.log.key_version(key) for key in (name, *forks.values())}
    app.engine.main.catch_up()
    state = _state(ctx)
    if name in state["experiments"]:
        raise click.ClickException(f"experiment {name!r} exists; pick another name")
    if state["running"]:
        running = state["running"][0]
        raise click.ClickException(
            f"experiment {running!r} is running; one runs at a time "
            f"(`selfeng experiment stop {running}`)"
        )
    live = {f.name for f in app.engine.forks()}
    taken = [f for f in forks.values() if f in live]
    if taken:
        raise click.ClickException(f"fork {taken[0]!r} exists; drop it or pick another name")
    events = opening(
        name,
        arms,
        control,
        shares,
        metric=metric,
        guardrails=guardrails or (("wrong_rate",) if metric != "wrong_rate" else ()),
        min_samples=min_samples,
        max_samples=max_samples,
        alpha=alpha,
        reason=reason,
    )
    app.append(events, expected_versions=expected)
    app.engine.catch_up(CliProgress)
    described = describe(name, _get(ctx, name))
    if as_json:
        print_json(described)
        return
    guards = ", ".join(_get(ctx, name)["guardrails"]) or "none"
    console.print(
        f"experiment {name!r} started: {metric} decides, guardrails {guards}", markup=False
    )
    for arm, fork in forks.items():
        pins = ", ".join(f"{k}={v}" for k, v in arms[arm].items()) or "the live policies"
        console.print(f"  {arm}: {shares[arm]:.0%} of sessions, fork {fork}, {pins}", markup=False)


@experiment.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    """Every experiment: status, metric, requests per arm and the winner."""
    experiments = _state(ctx)["experiments"]
    rows = [describe(name, e) for name, e in experiments.items()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no experiments; start one with `selfeng experiment start NAME --arm ...`")
        return
    table = Table("experiment", "status", "metric", "arms (requests, metric)", "winner")
    for name, e in experiments.items():
        cells = []
        for arm in e["arms"]:
            s = summary(e["outcomes"][arm])
            cells.append(f"{arm} ({s['requests']}, {s[e['metric']]:.4g})")
        done = e["concluded"]
        winner = "-" if done is None else str(done.get("winner") or "none")
        table.add_row(name, e["status"], e["metric"], ", ".join(cells), winner)
    console.print(table)


@experiment.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def show(ctx: Context, name: str, as_json: bool) -> None:
    """An experiment's design, each arm's outcomes, the statistics now and its conclusion."""
    experiment = _get(ctx, name)
    described = describe(name, experiment)
    if as_json:
        print_json(described)
        return
    console.print(
        f"{name}: {experiment['status']}, {experiment['metric']} decides "
        f"(alpha {experiment['alpha']}, {experiment['min_samples']} to "
        f"{experiment['max_samples']} requests per arm)",
        markup=False,
    )
    if experiment["refused"]:
        console.print(f"refused: {experiment['refused']}", markup=False)
    arms = list(experiment["arms"])
    summaries = [summary(experiment["outcomes"][arm]) for arm in arms]
    table = Table("", *arms)
    table.add_row("fork", *(experiment["arms"][arm] for arm in arms))
    table.add_row("split", *(f"{experiment['split'].get(arm, 0):.0%}" for arm in arms))
    for arm_policies in (experiment["policies"],):
        table.add_row(
            "policies",
            *(
                ", ".join(f"{k}={v}" for k, v in arm_policies.get(a, {}).items()) or "-"
                for a in arms
            ),
        )
    for key in ("requests", *METRICS):
        mark = " (decides)" if key == experiment["metric"] else ""
        mark = " (guardrail)" if key in experiment["guardrails"] else mark
        table.add_row(key + mark, *(f"{s[key]:.4g}" for s in summaries))
    console.print(table)
    if experiment["status"] == "running":
        console.print(f"now: {verdict(experiment).reason}", markup=False)
    done = experiment["concluded"]
    if done is not None:
        console.print(
            f"concluded by {done.get('decided_by')}: winner {done.get('winner') or 'none'}; "
            f"{done.get('reason')}",
            markup=False,
        )


def _conclude(ctx: Context, name: str, winner: str | None, reason: str) -> list[Event]:
    app = ctx.app
    version = app.log.key_version(name)
    experiment = _get(ctx, name)
    if experiment["status"] != "running":
        raise click.ClickException(f"experiment {name!r} is not running ({experiment['status']})")
    if winner is not None and winner not in experiment["arms"]:
        raise click.BadParameter(
            f"{winner!r}: the arms are {', '.join(experiment['arms'])}", param_hint="ARM"
        )
    stats = verdict(experiment, detailed=True).stats
    events = conclusion(name, experiment, Verdict(True, winner, reason, stats), decided_by="user")
    app.append(events, expected_versions={name: version})
    app.engine.catch_up()
    return events


@experiment.command("stop")
@click.argument("name")
@click.option("--reason", default="stopped by a person", show_default=True, help="Why.")
@click.option("--json", "as_json", is_flag=True, help="Print the experiment as JSON.")
@pass_context
def stop(ctx: Context, name: str, reason: str, as_json: bool) -> None:
    """End a running experiment with no winner: the live policies stay, the forks go."""
    _conclude(ctx, name, None, reason)
    if as_json:
        print_json(describe(name, _get(ctx, name)))
    else:
        console.print(f"experiment {name!r} stopped; the live policies stay", markup=False)


@experiment.command("promote")
@click.argument("name")
@click.argument("arm")
@click.option("--reason", default="promoted by a person", show_default=True, help="Why.")
@click.option("--json", "as_json", is_flag=True, help="Print the experiment as JSON.")
@pass_context
def promote(ctx: Context, name: str, arm: str, reason: str, as_json: bool) -> None:
    """End a running experiment with ARM as the winner: its policies become main's."""
    events = _conclude(ctx, name, arm, reason)
    if as_json:
        print_json(describe(name, _get(ctx, name)))
        return
    changed = [f"{e.name} = {e.value}" for e in events if isinstance(e, PolicyChanged)]
    console.print(
        f"experiment {name!r}: {arm} promoted; {', '.join(changed) or 'no policy changed'}",
        markup=False,
    )


@experiment.command("simulate")
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    required=True,
    metavar="NAME=VALUE",
    help="A candidate policy value (repeatable).",
)
@click.option("--last", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
@pass_context
def simulate_(ctx: Context, policies: tuple[str, ...], last: int, as_json: bool) -> None:
    """Answer the last requests again under candidate policy values, appending nothing, and
    estimate the change of each metric (from the answers recorded and their ratings)."""
    try:
        pins = dict(parse_policy_assignment(p) for p in policies)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from exc
    app = ctx.app
    past = past_requests(app.log, last)
    handler = app.replay_handler(pins)  # no LLM: offline only
    with app.handling:
        result = simulate(handler, app.handler_state(), pins, past)
    estimate = result.estimate()
    if as_json:
        print_json(
            {
                "policies": result.policies,
                "requests": result.recorded.requests,
                "estimate": estimate,
                "unverified": result.candidate.unverified,
                "changed": result.changed,
            }
        )
        return
    pins_text = ", ".join(f"{k}={v}" for k, v in pins.items())
    console.print(f"{len(past)} past request(s) answered again with {pins_text}", markup=False)
    table = Table("metric", "recorded", "candidate", "change")
    for name, row in estimate.items():
        table.add_row(
            name, f"{row['recorded']:.4f}", f"{row['candidate']:.4f}", f"{row['change']:+.4f}"
        )
    console.print(table)
    console.print(
        f"{len(result.changed)} answer(s) would change; {result.candidate.unverified} new "
        "answer(s) have no rating to check them against",
        markup=False,
    )


COMMANDS = [experiment]
