"""``selfeng learn``: what the learners concluded, and what each conclusion was based on."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from selfeng.app import Selfeng
from selfeng.cli import Context
from selfeng.cli.render import console, print_json
from selfeng.core.mapper import DecodeError, from_record
from selfeng.projections.llm_usage import LLMUsageState
from selfeng.projections.patterns import PatternsState, top
from selfeng.schemas import (
    CompositeRegistered,
    Event,
    FailureAnalyzed,
    PatternDetected,
    RepairProposed,
    ToolDeprecated,
    ToolRepaired,
    ToolRolledBack,
)

pass_context = click.make_pass_decorator(Context)

LEARNT_TYPES = (
    "PatternDetected",
    "CompositeRegistered",
    "FailureAnalyzed",
    "RepairProposed",
    "ToolRepaired",
    "ToolRolledBack",
    "ToolDeprecated",
)


def learnt_events(app: Selfeng) -> list[Event]:
    """The learners' conclusions in the log, oldest first."""
    events: list[Event] = []
    for batch in app.log.read(types=LEARNT_TYPES):
        for record in batch.records:
            try:
                events.append(from_record(record))
            except DecodeError:
                continue
    return events


def summary(app: Selfeng, *, patterns: int = 10) -> dict[str, Any]:
    """Everything ``selfeng learn`` shows, as data."""
    events = learnt_events(app)
    policies = app.policies()
    pattern_state: PatternsState = app.state("patterns")
    usage: LLMUsageState = app.state("llm_usage")
    detected = {e.pattern_id: e for e in events if isinstance(e, PatternDetected)}
    failures: dict[str, int] = {}
    for event in events:
        if isinstance(event, FailureAnalyzed):
            failures[event.kind] = failures.get(event.kind, 0) + 1
    return {
        "policy": {
            name: policies[name]
            for name in (
                "composite.min_frequency",
                "composite.min_success_rate",
                "composite.min_confidence",
            )
        },
        "patterns": [
            {
                "pattern": p.pattern_id,
                "kind": p.kind,
                "support": p.support,
                "success_rate": round(p.success_rate, 3),
                "confidence": round(p.confidence, 3),
                "detected": p.pattern_id in detected,
            }
            for p in top(pattern_state, patterns)
        ],
        "composites": [
            {
                "tool": e.tool,
                "version": e.version,
                "members": list(e.members),
                "pattern": e.pattern_id,
                "based_on": _evidence(detected.get(e.pattern_id)),
                "at": e.occurred_at.isoformat(),
            }
            for e in events
            if isinstance(e, CompositeRegistered)
        ],
        "repairs": [
            {
                "tool": e.tool,
                "from_version": e.from_version,
                "to_version": e.to_version,
                "based_on": _repair_basis(events, e),
                "at": e.occurred_at.isoformat(),
            }
            for e in events
            if isinstance(e, ToolRepaired)
        ],
        "rollbacks": [
            {
                "tool": e.tool,
                "from_version": e.from_version,
                "to_version": e.to_version,
                "reason": e.reason,
                "at": e.occurred_at.isoformat(),
            }
            for e in events
            if isinstance(e, ToolRolledBack)
        ],
        "deprecations": [
            {"tool": e.tool, "version": e.version, "reason": e.reason}
            for e in events
            if isinstance(e, ToolDeprecated)
        ],
        "failures": failures,
        "llm": usage["models"],
    }


def _evidence(detected: PatternDetected | None) -> str:
    if detected is None:
        return "pattern not in this log"
    return (
        f"{detected.support} requests, {detected.success_rate:.0%} succeeded, "
        f"confidence {detected.confidence:.2f}; tested on {len(detected.request_ids)} recorded runs"
    )


def _repair_basis(events: list[Event], repaired: ToolRepaired) -> str:
    for event in reversed(events):
        if (
            isinstance(event, RepairProposed)
            and event.tool == repaired.tool
            and event.from_version == repaired.from_version
        ):
            return event.rationale or "a fix with a test that reproduces the failure"
    return ""


@click.command("learn")
@click.option("--patterns", "n_patterns", default=10, show_default=True, help="Patterns to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def learn(ctx: Context, n_patterns: int, as_json: bool) -> None:
    """What selfeng learnt: patterns, composites, repairs, rollbacks, and their evidence."""
    data = summary(ctx.app, patterns=n_patterns)
    if as_json:
        print_json(data)
        return
    policy = data["policy"]
    console.print(
        f"[bold]Patterns[/] (promoted at ≥ {policy['composite.min_frequency']} requests, "
        f"≥ {policy['composite.min_success_rate']:.0%} success, "
        f"confidence ≥ {policy['composite.min_confidence']})"
    )
    table = Table("pattern", "kind", "support", "success", "confidence", "composite")
    for p in data["patterns"]:
        table.add_row(
            p["pattern"],
            p["kind"],
            str(p["support"]),
            f"{p['success_rate']:.0%}",
            f"{p['confidence']:.2f}",
            "yes" if p["detected"] else "",
        )
    console.print(table if data["patterns"] else "  none yet (ask multi-step questions)")
    _section("Composites", data["composites"], ("tool", "members", "based_on"))
    _section("Repairs", data["repairs"], ("tool", "from_version", "to_version", "based_on"))
    _section("Rollbacks", data["rollbacks"], ("tool", "from_version", "to_version", "reason"))
    _section("Deprecations", data["deprecations"], ("tool", "version", "reason"))
    if data["failures"]:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(data["failures"].items()))
        console.print(f"[bold]Failures analysed[/]: {kinds}")
    if data["llm"]:
        for model, used in data["llm"].items():
            console.print(
                f"[bold]LLM[/] {model}: {used['calls']} calls, "
                f"{used['prompt_tokens'] + used['completion_tokens']:,} tokens, "
                f"{used['latency_ms'] / max(used['calls'], 1):.0f} ms per call"
            )


def _section(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    console.print(f"[bold]{title}[/]")
    if not rows:
        console.print("  none")
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*(", ".join(v) if isinstance(v := row[c], list) else str(v) for c in columns))
    console.print(table)


COMMANDS = [learn]
