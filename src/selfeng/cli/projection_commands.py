"""Projection commands: ``project``, ``replay``, ``state``, ``fork ...``, ``policy ...``."""

from __future__ import annotations

import threading

import click
from rich.table import Table

from selfeng.cli import Context
from selfeng.cli.render import CliProgress, console, err_console, print_json
from selfeng.core.policies import POLICIES, parse_policy_assignment
from selfeng.projections.catalog import projection_names
from selfeng.projections.policies import PoliciesState
from selfeng.projections.replay import state_at, verify
from selfeng.schemas import ForkCreated, ForkDropped, PolicyChanged, PolicyRolledBack
from selfeng.schemas.policy import FORK_NAME

pass_context = click.make_pass_decorator(Context)


@click.command("project")
@click.option("-f", "--follow", is_flag=True, help="Keep every projection current until Ctrl-C.")
@pass_context
def project(ctx: Context, follow: bool) -> None:
    """Bring every projection of the main line and of every fork up to the end of the log."""
    engine = ctx.app.engine
    if not follow:
        folded = engine.catch_up(CliProgress)
        for fork, n in folded.items():
            console.print(
                f"{fork}: {n:,} new event(s) folded, at {engine.runner(engine.fork(fork)).position}"
            )
        return
    stop = threading.Event()
    err_console.print("following the log; Ctrl-C to stop")
    try:
        engine.run(stop, progress=CliProgress)
    except KeyboardInterrupt:
        stop.set()


@click.command("replay")
@click.option("--fork", "fork_name", default="main", show_default=True, help="Which fork.")
@click.option(
    "--from-snapshot",
    is_flag=True,
    help="Start from the newest stored snapshot instead of position 0.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@pass_context
def replay(ctx: Context, fork_name: str, from_snapshot: bool, as_json: bool) -> None:
    """Rebuild every projection from the log and check it equals the live state.

    Exits with status 1 when a rebuilt projection differs from the live one.
    """
    results = verify(ctx.app.engine, fork_name, from_snapshot=from_snapshot, progress=CliProgress())
    if as_json:
        print_json([{**r.__dict__, "equal": r.equal} for r in results])
    else:
        table = Table("projection", "position", "events (live)", "events (replay)", "equal")
        for r in results:
            table.add_row(
                r.projection,
                r.position,
                f"{r.live_events:,}",
                f"{r.replayed_events:,}",
                "[green]yes[/green]" if r.equal else "[red]NO[/red]",
            )
        console.print(table)
        for r in results:
            for line in r.differences:
                console.print(f"[red]{r.projection}[/red] {line}")
    if not all(r.equal for r in results):
        raise SystemExit(1)


@click.command("state")
@click.argument("projection", type=click.Choice(projection_names()))
@click.option(
    "--at",
    metavar="POSITION",
    help="Show the state as of this log position (1234, or topic:partition=offset,...).",
)
@click.option("--fork", "fork_name", default="main", show_default=True, help="Which fork.")
@pass_context
def state(ctx: Context, projection: str, at: str | None, fork_name: str) -> None:
    """Print a projection's state (as JSON), now or as of a past position."""
    engine = ctx.app.engine
    if at is None:
        print_json(engine.state(projection, fork_name))
        return
    try:
        position = ctx.app.log.parse_position(at)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from exc
    print_json(state_at(engine, projection, position, fork_name, progress=CliProgress()))


# -- forks ---------------------------------------------------------------------------------


@click.group("fork")
def fork() -> None:
    """Named copies of the projections under other policy values (for A/B tests)."""


@fork.command("create")
@click.argument("name")
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    metavar="NAME=VALUE",
    help="A policy value pinned in the fork (repeatable), e.g. retrieval.threshold=0.5.",
)
@click.option("--reason", default="", help="Why the fork exists.")
@pass_context
def fork_create(ctx: Context, name: str, policies: tuple[str, ...], reason: str) -> None:
    """Create fork NAME and build its projections from the whole log."""
    if name == "main":
        raise click.BadParameter("'main' is the live line, not a fork", param_hint="NAME")
    if not FORK_NAME.fullmatch(name):
        raise click.BadParameter(
            f"{name[:70]!r}: a fork's name is 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            param_hint="NAME",
        )
    try:
        pinned = dict(parse_policy_assignment(p) for p in policies)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from exc
    engine = ctx.app.engine
    version = ctx.app.log.key_version(name)  # read before the check: a racing create conflicts
    engine.main.catch_up()
    if any(f.name == name for f in engine.forks()):
        raise click.ClickException(f"fork {name!r} exists; drop it first or pick another name")
    ctx.app.append(
        [ForkCreated(fork=name, policies=pinned, reason=reason)], expected_versions={name: version}
    )
    engine.catch_up(CliProgress)
    runner = engine.runner(engine.fork(name))
    console.print(
        f"fork {name!r} built: {runner.events_applied('events'):,} events, at {runner.position}"
    )


@fork.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def fork_list(ctx: Context, as_json: bool) -> None:
    """List the live forks with their pinned policies and progress."""
    engine = ctx.app.engine
    engine.catch_up(CliProgress)
    forks = [(spec, engine.runner(spec)) for spec in engine.forks()]
    if as_json:
        print_json(
            [
                {
                    "fork": spec.name,
                    "policies": dict(spec.policies),
                    "position": str(runner.position),
                    "events": runner.events_applied("events"),
                }
                for spec, runner in forks
            ]
        )
        return
    table = Table("fork", "pinned policies", "position", "events")
    for spec, runner in forks:
        pins = ", ".join(f"{k}={v}" for k, v in spec.policies.items()) or "-"
        table.add_row(spec.name, pins, str(runner.position), f"{runner.events_applied('events'):,}")
    console.print(
        table if forks else "no forks; create one with `selfeng fork create NAME --policy K=V`"
    )


@fork.command("drop")
@click.argument("name")
@pass_context
def fork_drop(ctx: Context, name: str) -> None:
    """Stop maintaining fork NAME and delete its stored projections."""
    engine = ctx.app.engine
    engine.main.catch_up()
    engine.fork(name)  # raises for an unknown fork
    ctx.app.append([ForkDropped(fork=name)])
    engine.catch_up()
    console.print(f"fork {name!r} dropped")


# -- policies ------------------------------------------------------------------------------


@click.group("policy")
def policy() -> None:
    """Policy values and their version history."""


def _policies(ctx: Context, fork_name: str = "main") -> PoliciesState:
    state: PoliciesState = ctx.app.engine.state("policies", fork_name)
    return state


@policy.command("list")
@click.option("--fork", "fork_name", default="main", show_default=True, help="Which fork.")
@pass_context
def policy_list(ctx: Context, fork_name: str) -> None:
    """Every policy with its value in force and version."""
    table = Table("policy", "value", "version", "what it does")
    for name, record in sorted(_policies(ctx, fork_name)["policies"].items()):
        spec = POLICIES.get(name)
        value = f"{record['value']}" + (" (pinned)" if record["pinned"] else "")
        table.add_row(name, value, str(record["version"]), spec.description if spec else "")
    console.print(table)


@policy.command("show")
@click.argument("name")
@click.option("--fork", "fork_name", default="main", show_default=True, help="Which fork.")
@pass_context
def policy_show(ctx: Context, name: str, fork_name: str) -> None:
    """One policy's value and full history, rejected changes included."""
    record = _policies(ctx, fork_name)["policies"].get(name)
    if record is None:
        raise click.ClickException(f"no policy {name!r}; see `selfeng policy list`")
    console.print(f"{name} = {record['value']} (version {record['version']})")
    table = Table("version", "value", "by", "at", "reason")
    for h in record["history"]:
        version = str(h["version"]) if h["applied"] else "[red]not applied[/red]"
        table.add_row(version, str(h["value"]), h["by"], h["at"] or "-", h["reason"])
    console.print(table)


@policy.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("value")
@click.option("--reason", default="", help="Why.")
@pass_context
def policy_set(ctx: Context, name: str, value: str, reason: str) -> None:
    """Change a policy (VALUE is JSON, or a bare word; a VALUE starting with '-', such as
    -1, is a value, not an option)."""
    try:
        name, checked = parse_policy_assignment(f"{name}={value}")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="VALUE") from exc
    ctx.app.append([PolicyChanged(name=name, value=checked, reason=reason)])
    record = _policies(ctx)["policies"][name]
    console.print(f"{name} = {record['value']} (version {record['version']})")


@policy.command("rollback")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--reason", default="", help="Why.")
@pass_context
def policy_rollback(ctx: Context, name: str, version: int, reason: str) -> None:
    """Restore the value a policy had at VERSION (as a new version)."""
    record = _policies(ctx)["policies"].get(name)
    if record is None or not any(h["version"] == version for h in record["history"]):
        raise click.ClickException(
            f"{name} has no version {version}; see `selfeng policy show {name}`"
        )
    ctx.app.append([PolicyRolledBack(name=name, to_version=version, reason=reason)])
    record = _policies(ctx)["policies"][name]
    console.print(f"{name} = {record['value']} (version {record['version']})")


COMMANDS = [project, replay, state, fork, policy]
