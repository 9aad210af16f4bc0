"""``selfeng demo``: the request path at work on a fresh, temporary embedded store.

It registers the starter library through the sandbox, answers the seed's examples (one of
them a two-step plan), answers a repeat from the execution cache, asks for a tool it does
not have, shows the per-tool stats the registry folded from all of it, learns a composite
tool from a repeated two-step request and uses it, rolls back a deliberately broken tool
version after it fails, and replays the log to show that everything it knows is a fold of
the events.
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
from selfeng.core.tooldef import parse_tool
from selfeng.projections.registry import stats_of
from selfeng.projections.replay import verify
from selfeng.schemas import (
    ArgumentsExtracted,
    CacheHit,
    CompositeRegistered,
    FailureAnalyzed,
    PatternDetected,
    RepairProposed,
    ToolDeprecated,
    ToolExecuted,
    ToolRepaired,
    ToolRolledBack,
    ToolSearched,
    ToolSynthesisRequested,
)

SCENARIO = "Calculate {p}% of {v} and reverse the result"

BROKEN_REVERSE = '''"""Reversal, word by word (a deliberately broken second version)."""


def reverse_string(text: str) -> str:
    """Reverse a string or text: its characters in reverse order ("ab cd" becomes "dc ba").

    Args:
        text: the text to reverse.
    """
    head, tail = text.split(" ", 1)  # the bug: assumes at least two words
    return tail[::-1] + " " + head[::-1]


def test_two_words() -> None:
    assert reverse_string("ab cd") == "dc ba"


def test_three_words() -> None:
    assert reverse_string("a b c") == "c b a"
'''
"""A v2 of reverse_string whose own tests pass but which fails on a single word."""

LEARNT = (
    PatternDetected,
    CompositeRegistered,
    FailureAnalyzed,
    RepairProposed,
    ToolRepaired,
    ToolRolledBack,
    ToolDeprecated,
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
            chosen = next((e for e in event.evidence if e.accepted), None)
            if chosen is not None:
                detail = f"chose {chosen.tool} (confidence {chosen.confidence:.2f})"
            elif event.evidence:
                detail = f"none fits: {event.evidence[0].tool}: {event.evidence[0].reason}"
            else:
                detail = "no tool above the threshold"
        elif isinstance(event, ArgumentsExtracted):
            detail = f"{event.tool} {event.arguments}"
        elif isinstance(event, LEARNT):
            detail = _learnt(event)
        style = "magenta" if isinstance(event, LEARNT) else "cyan"
        table.add_row(f"[{style}]{event.type}[/{style}]", detail)
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

    _learning(app, agent)

    _step("7. replay: rebuild every projection from the log and compare with the live state")
    for result in verify(app.engine):
        verdict = (
            "[green]equal[/green]" if result.equal else f"[red]DIFFERENT[/red] {result.differences}"
        )
        console.print(f"{result.projection}: {result.replayed_events} events replayed, {verdict}")
    console.print(
        '\nNext: `selfeng ask "..." --trace`, `selfeng learn`, `selfeng tools history NAME`, '
        "`selfeng tail`, `selfeng fork create NAME --policy retrieval.threshold=0.5`."
    )


def _learnt(event: object) -> str:
    if isinstance(event, PatternDetected):
        return (
            f"{' > '.join(event.tools)}: {event.support} requests, "
            f"{event.success_rate:.0%} succeeded, confidence {event.confidence:.2f}"
        )
    if isinstance(event, CompositeRegistered):
        return f"{event.tool} v{event.version} = {' + '.join(event.members)}, tests passed"
    if isinstance(event, FailureAnalyzed):
        return f"{event.kind}: {event.evidence[:120]}"
    if isinstance(event, ToolRolledBack):
        return f"{event.tool} v{event.from_version} -> v{event.to_version}: {event.reason[:120]}"
    if isinstance(event, ToolRepaired):
        return f"{event.tool} v{event.from_version} -> v{event.to_version}"
    if isinstance(event, ToolDeprecated):
        return f"{event.tool} v{event.version}: {event.reason[:120]}"
    return ""


def _learning(app: Selfeng, agent: Agent) -> None:
    _step("4. learn a composite: a two-step request repeated until its pattern is promoted")
    for i, (p, v) in enumerate([(10, 50), (20, 40), (30, 70), (40, 60), (40, 60)], 1):
        prompt = SCENARIO.format(p=p, v=v)
        answer = agent.ask(prompt)
        learnt = [e for e in answer.events if isinstance(e, LEARNT)]
        console.print(
            f"{i}. {prompt} -> [green]{answer.text}[/green]  [dim]({answer.timings['total']:.1f}"
            f" ms, tools: {', '.join(answer.tools)}{', cached' if answer.cached else ''})[/dim]"
        )
        for event in learnt:
            console.print(f"   [magenta]{event.type}[/magenta] {_learnt(event)}")
    console.print(
        "the composite runs both tools in one sandbox call; its tests are the recorded runs"
    )

    _step("5. a deliberately broken version: it fails, and is rolled back")
    events = app.add_tool(parse_tool(BROKEN_REVERSE, "reverse_string"))
    version = events[0].version  # type: ignore[attr-defined]
    console.print(
        f"reverse_string v{version} registered (its own tests pass); it fails on a single word"
    )
    for prompt in ("Reverse the string racecars", "Reverse the string racecars"):
        _show(agent.ask(prompt), prompt)
    if app.llm is None:
        console.print(
            "[dim]no LLM configured, so it was rolled back rather than repaired; with "
            "OPENAI_BASE_URL or OPENAI_API_KEY set, reflection asks for a fix first[/dim]"
        )

    _step("6. what was learnt, and the history of the broken tool")
    tool = app.registry()["tools"]["reverse_string"]
    table = Table("version", "event", "what")
    for entry in tool["history"]:
        table.add_row(str(entry["version"]), entry["event"], entry["detail"])
    console.print(table)
    console.print(f"active version: {tool['active']}  (see `selfeng learn` for everything)")


COMMANDS = [demo]
