"""``selfeng demo``: the request path at work on a fresh, temporary embedded store.

It registers the starter library through the sandbox, answers the seed's examples (one of
them a two-step plan), answers a repeat from the execution cache, asks for a tool it does
not have, shows the per-tool stats the registry folded from all of it, and replays the log to
show that everything it knows is a fold of the events.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from rich.panel import Panel
from rich.table import Table

from selfeng.agent import Agent, Answer
from selfeng.app import Selfeng
from selfeng.cli.render import console
from selfeng.core.settings import Settings
from selfeng.projections.registry import stats_of
from selfeng.projections.replay import verify
from selfeng.schemas import (
    ArgumentsExtracted,
    CacheHit,
    ToolExecuted,
    ToolSearched,
    ToolSynthesisRequested,
)

EXAMPLES = [
    "What is 25% of 100?",
    "Reverse the string hello",
    "Calculate 25% of 100 and reverse the result",
    "What is 25% of 100?",
    "Translate good morning into French",
]


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def _show(answer: Answer, prompt: str) -> None:
    console.print(f"[bold]> {prompt}[/bold]")
    style = "green" if answer.ok else "yellow"
    console.print(
        f"[{style}]{answer.text}[/{style}]  "
        f"[dim]({answer.timings['total']:.1f} ms, tools: "
        f"{', '.join(answer.tools) or 'none'})[/dim]"
    )
    table = Table("event", "what", box=None, show_header=False, padding=(0, 1))
    for event in answer.events:
        detail = ""
        if isinstance(event, ToolExecuted):
            detail = (
                f"{event.tool}({event.arguments}) -> {event.result!r} in "
                f"{event.duration_ms:.1f} ms, sandbox {event.sandbox}"
            )
        elif isinstance(event, CacheHit):
            detail = f"{event.tool}: {event.result!r} from the cache, no sandbox run"
        elif isinstance(event, ToolSynthesisRequested):
            detail = f"need: {event.need!r}"
        elif isinstance(event, ToolSearched):
            best = event.candidates[0] if event.candidates else None
            detail = f"best: {best.tool} {best.score:.2f}" if best else "no tool above threshold"
        elif isinstance(event, ArgumentsExtracted):
            detail = f"{event.tool} {event.arguments}"
        table.add_row(f"[cyan]{event.type}[/cyan]", detail)
    console.print(table)


@click.command("demo")
def demo() -> None:
    """Answer the seed's examples on a fresh temporary embedded store, showing every event.

    It never touches your own log (``--log``/``SELFENG_LOG``) or home.
    """
    with (
        tempfile.TemporaryDirectory(prefix="selfeng-demo-") as tmp,
        Selfeng.open(Settings.resolve(home=Path(tmp), env={})) as app,
    ):
        _run(app)


def _run(app: Selfeng) -> None:
    console.print(
        Panel.fit(
            "Every step is an event on an append-only log; the registry, the cache and the\n"
            f"policies are projections of it.  Log: {app.log.url}",
            title="selfeng demo",
        )
    )
    _step(f"1. register the starter library (each tool's tests run in {app.sandbox.name})")
    added = app.seed_tools()
    console.print(f"{len(added)} tools proposed, tested in the sandbox and registered")

    _step("2. ask: search -> arguments -> sandbox (or cache) -> answer, each step an event")
    agent = Agent(app, client="demo")
    answers = []
    for prompt in EXAMPLES:
        answer = agent.ask(prompt)
        answers.append(answer)
        _show(answer, prompt)
    first, repeat = answers[0], answers[3]
    console.print(
        f"\nthe repeat was answered from the cache: {repeat.cached} "
        f"({first.timings['total']:.1f} ms the first time, "
        f"{repeat.timings['total']:.1f} ms the second)"
    )

    _step("3. per-tool stats, folded from the events")
    registry = app.registry()
    table = Table("tool", "version", "runs", "successes", "cache hits", "mean ms")
    for name in sorted({t.split("@")[0] for a in answers for t in a.tools}):
        version = registry["tools"][name]["active"] or 0
        stats = stats_of(registry, name, version)
        mean = stats["total_ms"] / stats["executions"] if stats["executions"] else 0.0
        table.add_row(
            name,
            str(version),
            str(stats["executions"]),
            str(stats["successes"]),
            str(stats["cache_hits"]),
            f"{mean:.1f}",
        )
    console.print(table)

    _step("4. replay: rebuild every projection from the log and compare with the live state")
    for result in verify(app.engine):
        verdict = (
            "[green]equal[/green]" if result.equal else f"[red]DIFFERENT[/red] {result.differences}"
        )
        console.print(f"{result.projection}: {result.replayed_events} events replayed, {verdict}")
    console.print(
        '\nNext: `selfeng ask "..." --trace`, `selfeng tools list`, `selfeng tail`, '
        "`selfeng fork create NAME --policy retrieval.threshold=0.5`."
    )


COMMANDS = [demo]
