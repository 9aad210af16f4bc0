"""``selfeng synth``: the tools the agent was asked to write, and what it tried."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from textwrap import indent

import click
from rich.table import Table

from selfeng.app import Selfeng
from selfeng.cli import Context
from selfeng.cli.render import console, print_json
from selfeng.consumers.synthesizer import python_block, request_events
from selfeng.core.tooldef import ToolSourceError, parse_tool
from selfeng.projections.runner import ProjectionRunner
from selfeng.projections.synthesis import (
    SynthesisDetails,
    SynthesisProjection,
    SynthesisState,
    details,
    pending,
)
from selfeng.schemas import LLMCalled, RequestReceived

pass_context = click.make_pass_decorator(Context)


@click.group("synth")
def synth() -> None:
    """Tools the agent was asked to write: what is pending and what was tried."""


def synthesis_state(app: Selfeng) -> SynthesisState:
    """The synthesis projection's state: the live one, or folded now when it is not kept."""
    try:
        state: SynthesisState = app.state("synthesis")
    except KeyError:
        runner = ProjectionRunner(app.log, None, [SynthesisProjection()])
        runner.catch_up()
        state = runner.state("synthesis")
    return state


def _llm_setup() -> str:
    try:
        from selfeng.infra.llm.openai import describe_llm_setup
    except ImportError:  # the openai extra is not installed
        return (
            "no LLM configured: install selfeng[openai] and set OPENAI_API_KEY or OPENAI_BASE_URL"
        )
    return describe_llm_setup()


def _age(iso: str, now: datetime) -> str:
    seconds = max(0.0, (now - datetime.fromisoformat(iso)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


@synth.command("pending")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_context
def pending_command(ctx: Context, as_json: bool) -> None:
    """The requests still waiting for a tool: id, age, need and where each stands."""
    app = ctx.app
    llm = app.llm
    rows = pending(synthesis_state(app), llm_configured=llm is not None)
    now = datetime.now(UTC)
    if as_json:
        print_json(
            {
                "llm": llm.name if llm is not None else None,
                "pending": [{**asdict(r), "age": _age(r.requested_at, now)} for r in rows],
            }
        )
        return
    if llm is None:
        console.print(_llm_setup(), markup=False)
    if not rows:
        console.print("no request is waiting for a tool")
        return
    table = Table("age", "need", "status", "request id")
    table.columns[3].no_wrap = True  # to be copied whole into `synth show` or `--answer`
    for row in rows:
        table.add_row(_age(row.requested_at, now), row.need, row.status, row.request_id)
    console.print(table)


@synth.command("show")
@click.argument("request_id")
@pass_context
def show(ctx: Context, request_id: str) -> None:
    """What a request asked, each attempt to write its tool with the test output, what the
    LLM calls cost, and how a person can answer it."""
    app = ctx.app
    found = details(synthesis_state(app), request_id)
    if found is None:
        raise click.ClickException(
            f"request {request_id} did not ask for a tool; see `selfeng synth pending`"
        )
    history = request_events(app.ports, request_id)
    received = next((e for e in history if isinstance(e, RequestReceived)), None)
    calls = {str(e.event_id): e for e in history if isinstance(e, LLMCalled)}
    console.print(f"[bold]request[/bold] {request_id}")
    console.print(f"prompt:  {received.prompt if received else '(not in the log)'}", markup=False)
    console.print(f"need:    {found.need}", markup=False)
    score = "none" if found.best_score is None else f"{found.best_score:.3f}"
    console.print(f"asked:   {found.requested_at} (best tool score {score})")
    console.print(f"status:  {_status(found)}", markup=False)
    models = ", ".join(found.models) or "-"
    console.print(
        f"LLM:     {len(found.calls)} call(s), {found.tokens:,} tokens, model {models}",
        markup=False,
    )
    for call in found.calls:
        tokens = f"{call['prompt_tokens']}+{call['completion_tokens']} tokens"
        console.print(
            f"\n[bold]attempt {call['attempt']}[/bold]: {call['model']}, {tokens}, "
            f"{call['latency_ms']:.0f} ms"
        )
        if not call["ok"]:
            console.print(f"  the call failed: {call['error']}", markup=False)
            continue
        proposals = [p for p in found.proposals if p["cause"] == call["event_id"]]
        for p in proposals:
            verdict = p["status"]
            if verdict == "verified":
                verdict += f" ({p['passed']} tests passed)"
            elif p["reason"]:
                verdict += f": {p['reason']}"
            console.print(f"  proposed {p['tool']} v{p['version']}: {verdict}", markup=False)
            if p["status"] == "rejected" and p["output"]:
                console.print(indent(p["output"].strip(), "    "), markup=False)
        if not proposals:
            recorded = calls.get(call["event_id"])
            why = _unusable(recorded.response) if recorded is not None else "(not in the log)"
            console.print(f"  no tool was proposed: {why}", markup=False)
            if recorded is not None:
                console.print(indent(recorded.response.strip(), "    "), markup=False)
    if not found.answered:
        console.print(
            "\nA person can answer it: write the tool in a file (one typed, documented "
            f"function and its test_* functions), then `selfeng tools add FILE.py --answer "
            f"{request_id}`.",
            markup=False,
        )


def _status(found: SynthesisDetails) -> str:
    if found.answered:
        return "answered with " + (", ".join(found.answered_by) or "a tool")
    if found.gave_up is not None:
        return f"gave up: {found.gave_up}"
    return "in progress" if found.calls else "waiting for a tool"


def _unusable(response: str) -> str:
    """Why an answer gave no proposal (as far as the file itself says)."""
    source = python_block(response)
    if source is None:
        return "the answer has no ```python block"
    try:
        parse_tool(source)
    except ToolSourceError as exc:
        return str(exc)
    return "the file was refused (a name already taken, or too few tests)"


COMMANDS = [synth]
