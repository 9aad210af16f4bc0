"""``selfeng learn``: what the learners concluded, and what each conclusion was based on."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from selfeng.cli import Context
from selfeng.cli.render import console, print_json
from selfeng.learnt import LEARNT_TYPES, learnt_events, summary

__all__ = ["COMMANDS", "LEARNT_TYPES", "learnt_events", "summary"]

pass_context = click.make_pass_decorator(Context)


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
    _section(
        "Tuning (auto-tuner)",
        [
            {
                "experiment": r["experiment"],
                "candidate": _values(r["candidate"]),
                "status": r["status"],
                "outcome": _values(r["promoted"]) if r["promoted"] else (r["winner"] or "kept"),
                "reason": r["reason"] if r["status"] == "running" else r["decision"],
            }
            for r in data["tuning"]
        ],
        ("experiment", "candidate", "status", "outcome", "reason"),
    )
    if data["llm"]:
        for model, used in data["llm"].items():
            console.print(
                f"[bold]LLM[/] {model}: {used['calls']} calls, "
                f"{used['prompt_tokens'] + used['completion_tokens']:,} tokens, "
                f"{used['latency_ms'] / max(used['calls'], 1):.0f} ms per call"
            )


def _values(values: dict[str, Any]) -> str:
    """``{"arm": {"k": v}}`` or ``{"k": v}`` as ``k=v`` pairs."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        flat.update(value if isinstance(value, dict) else {key: value})
    return ", ".join(f"{k}={v}" for k, v in flat.items())


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
