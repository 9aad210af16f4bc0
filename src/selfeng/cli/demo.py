"""``selfeng demo``: the event spine at work on a fresh embedded store.

It publishes events as a client would (one of them invalid), folds them into projections,
changes a policy, forks the projections under another policy value, replays the log to
prove the live state is a fold of it, and looks at the state as of an earlier position.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import orjson
from rich.panel import Panel
from rich.table import Table

from selfeng.app import Selfeng
from selfeng.cli.render import console, event_line
from selfeng.core.settings import Settings
from selfeng.producers.publish import publish
from selfeng.projections.replay import state_at, verify
from selfeng.schemas import ForkCreated, PolicyChanged

CLIENT_MESSAGES = [
    {"type": "RequestReceived", "key": "req-1", "prompt": "What is 25% of 100?", "client": "demo"},
    {
        "type": "RequestReceived",
        "key": "req-2",
        "prompt": "Reverse the string hello",
        "client": "demo",
    },
    {"type": "FeedbackGiven", "key": "req-1", "rating": "good"},
    {"type": "RequestReceived", "prompt": 42},  # invalid: a prompt is text
]


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


@click.command("demo")
def demo() -> None:
    """Show the event log and its projections at work, on a fresh temporary embedded store.

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
            "selfeng keeps every step as an event on an append-only log; everything it knows is a\n"
            f"projection of that log.  Log: {app.log.url}",
            title="selfeng demo",
        )
    )

    _step("1. a client publishes events as JSON; the invalid one is dead-lettered, not lost")
    report = publish(app.log, [orjson.dumps(m) for m in CLIENT_MESSAGES], client="demo")
    console.print(
        f"appended {len(report.accepted)} events; {len(report.dead_letters)} dead letter(s):"
    )
    for letter in report.dead_letters:
        console.print(f"  [red]{letter.error}[/red]: {letter.reason}")

    _step("2. policies are events too: raise the retrieval threshold")
    before_change = app.log.head()
    app.append(
        [PolicyChanged(name="retrieval.threshold", value=0.5, reason="demo: fewer, better matches")]
    )

    _step("3. the log, as `selfeng tail` shows it")
    for batch in app.log.read():
        for record in batch.records:
            console.print(event_line(record, str(record.offset)))

    _step("4. projections fold the log: event counts and policy history")
    engine = app.engine
    engine.catch_up()
    counts = engine.main.dumped("events")
    table = Table("type", "events")
    for name, n in sorted(counts["by_type"].items()):
        table.add_row(name, str(n))
    console.print(table)
    threshold = engine.main.state("policies")["policies"]["retrieval.threshold"]
    console.print(
        f"retrieval.threshold = {threshold['value']} "
        f"(version {threshold['version']}, was {threshold['history'][0]['value']})"
    )

    _step("5. fork the projections under another policy value (for an A/B test)")
    app.append(
        [
            ForkCreated(
                fork="lenient",
                policies={"retrieval.threshold": 0.3},
                reason="demo: compare a lower threshold",
            )
        ]
    )
    engine.catch_up()
    for fork in engine.forks():
        value = engine.runner(fork).state("policies")["policies"]["retrieval.threshold"]["value"]
        console.print(
            f"fork {fork.name!r}: retrieval.threshold = {value}, "
            f"{engine.runner(fork).events_applied('events')} events folded"
        )

    _step("6. replay: rebuild every projection from position 0 and compare with the live state")
    for result in verify(engine):
        verdict = (
            "[green]equal[/green]" if result.equal else f"[red]DIFFERENT[/red] {result.differences}"
        )
        console.print(f"{result.projection}: {result.replayed_events} events replayed, {verdict}")

    _step(f"7. time travel: the state as of position {before_change}, before the change")
    then = state_at(engine, "policies", before_change)["policies"]["retrieval.threshold"]["value"]
    console.print(f"retrieval.threshold then = {then}, now = {threshold['value']}")
    console.print(
        "\nTry it on your own store: `selfeng tail`, `selfeng log stats`, "
        "`selfeng replay`, `selfeng fork create NAME --policy KEY=VALUE`."
    )


COMMANDS = [demo]
