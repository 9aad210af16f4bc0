"""``selfeng tools``: add, seed, list, show and history of the tool registry."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from selfeng.cli import Context
from selfeng.cli.render import console, err_console
from selfeng.consumers.synthesizer import answer_with
from selfeng.core.tooldef import ToolSourceError, parse_tool
from selfeng.projections.registry import live, stats_of, success_rate
from selfeng.schemas import Event, RequestCompleted, ToolRegistered, ToolRejected

pass_context = click.make_pass_decorator(Context)


@click.group("tools")
def tools() -> None:
    """The tool registry: add tools, seed the starter library, look at versions and stats."""


def _report(name: str, events: list[Event]) -> bool:
    outcome = events[-1]
    if isinstance(outcome, ToolRegistered):
        report = next((e for e in events if hasattr(e, "report")), None)
        passed = getattr(getattr(report, "report", None), "passed", "?")
        console.print(
            f"[green]registered[/green] {name} v{outcome.version} ({passed} tests passed)"
        )
        return True
    if isinstance(outcome, ToolRejected):
        err_console.print(
            f"[red]rejected[/red] {escape(name)} v{outcome.version}: {escape(outcome.reason)}"
        )
        if outcome.report is not None and outcome.report.output:
            err_console.print(outcome.report.output.strip(), markup=False)
    return False


@tools.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="The tool's function, when a file defines several.")
@click.option(
    "--answer",
    "answer_request",
    metavar="REQUEST_ID",
    help="Then answer this request, which asked for the tool (see `selfeng synth pending`).",
)
@pass_context
def add(ctx: Context, files: tuple[str, ...], name: str | None, answer_request: str | None) -> None:
    """Register tools written by a person: each FILE holds a typed, documented function and
    its test_* functions. A tool is registered only if its tests pass in the sandbox."""
    if answer_request is not None and len(files) != 1:
        raise click.UsageError("--answer takes one FILE: the tool that answers the request")
    ok = True
    for file in files:
        try:
            tool = parse_tool(Path(file).read_text(encoding="utf-8"), name)
        except ToolSourceError as exc:
            raise click.ClickException(f"{file}: {exc}") from exc
        ok = _report(tool.name, ctx.app.add_tool(tool, origin="human")) and ok
        if ok and answer_request is not None:
            ok = _answer(ctx, answer_request, tool.name)
    if not ok:
        raise SystemExit(1)


def _answer(ctx: Context, request_id: str, tool: str) -> bool:
    """Answer a request that asked for a tool with ``tool``; print the answer."""
    try:
        events = answer_with(ctx.app.ports, request_id, tool)
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from exc
    events += ctx.app.learn(events)
    completed = next(
        e for e in reversed(events) if isinstance(e, RequestCompleted) and e.key == request_id
    )
    style = "green" if completed.ok else "red"
    console.print(f"[{style}]answered[/{style}] request {request_id}:")
    console.print(completed.answer, markup=False)
    return completed.ok


@tools.command("seed")
@pass_context
def seed(ctx: Context) -> None:
    """Register the starter library (about twenty tools); already registered ones are kept."""
    added = ctx.app.seed_tools()
    for name, events in added.items():
        _report(name, events)
    if not added:
        console.print("the starter library is already registered")


@tools.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include tools with no active version.")
@pass_context
def list_tools(ctx: Context, show_all: bool) -> None:
    """The registered tools with their active version and use."""
    registry = ctx.app.registry()
    table = Table("tool", "version", "runs", "success", "cache hits", "mean ms", "what it does")
    for name, tool in sorted(registry["tools"].items()):
        active = tool["active"]
        if active is None and not show_all:
            continue
        record = tool["versions"].get(str(active)) if active is not None else None
        if record is None:
            table.add_row(name, "-", "", "", "", "", "(no active version)")
            continue
        stats = stats_of(registry, name, active)  # type: ignore[arg-type]
        mean = stats["total_ms"] / stats["executions"] if stats["executions"] else 0.0
        rate = f"{stats['successes'] / stats['executions']:.0%}" if stats["executions"] else "-"
        table.add_row(
            name,
            str(active),
            str(stats["executions"]),
            rate,
            str(stats["cache_hits"]),
            f"{mean:.1f}" if stats["executions"] else "-",
            record["spec"].get("description", ""),
        )
    console.print(table)


@tools.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, help="A version other than the active one.")
@pass_context
def show(ctx: Context, name: str, version: int | None) -> None:
    """A tool's spec, code, tests and stats."""
    registry = ctx.app.registry()
    tool = registry["tools"].get(name)
    if tool is None:
        raise click.ClickException(f"no tool {name!r}; see `selfeng tools list`")
    chosen = version if version is not None else tool["active"]
    record = tool["versions"].get(str(chosen))
    if record is None:
        raise click.ClickException(f"{name} has no version {chosen}")
    spec = record["spec"]
    console.print(f"[bold]{name}[/bold] v{chosen} ({record['status']}, {record['origin']})")
    console.print(spec.get("description", ""))
    for param, schema in spec.get("parameters", {}).get("properties", {}).items():
        console.print(f"  {param}: {schema}")
    console.print(f"  returns: {spec.get('returns')}; deterministic: {spec.get('deterministic')}")
    stats = stats_of(registry, name, int(chosen or 0))
    console.print(
        f"runs {stats['executions']}, successes {stats['successes']}, cache hits "
        f"{stats['cache_hits']}, success rate (smoothed) {success_rate(stats):.2f}"
    )
    console.print(Syntax(record["code"], "python", line_numbers=False))
    console.print(Syntax(record["tests"], "python", line_numbers=False))
    phrases = live(registry["phrases"].get(name))
    if phrases:
        console.print("learnt phrasings: " + "; ".join(sorted(phrases)[:10]))


@tools.command("history")
@click.argument("name")
@pass_context
def history(ctx: Context, name: str) -> None:
    """Every version of a tool and what happened to it, in order."""
    tool = ctx.app.registry()["tools"].get(name)
    if tool is None:
        raise click.ClickException(f"no tool {name!r}; see `selfeng tools list`")
    table = Table("at", "version", "event", "what")
    for entry in tool["history"]:
        table.add_row(entry["at"], str(entry["version"]), entry["event"], entry["detail"])
    console.print(table)
    console.print(f"active version: {tool['active']}")


COMMANDS = [tools]
