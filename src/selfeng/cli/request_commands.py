"""``selfeng ask``, ``selfeng feedback`` and ``selfeng worker``."""

from __future__ import annotations

import os
import signal
import threading
from typing import Literal

import click
from rich.table import Table

from selfeng.agent import Agent, NoAnswer
from selfeng.cli import Context
from selfeng.cli.render import ENVELOPE, console, err_console, print_json
from selfeng.consumers.worker import Worker
from selfeng.schemas import Event

pass_context = click.make_pass_decorator(Context)


def _trace(events: tuple[Event, ...]) -> None:
    table = Table("#", "event", "details")
    for i, event in enumerate(events, 1):
        fields = {
            k: v
            for k, v in event.model_dump(mode="json").items()
            if k not in ENVELOPE and v not in (None, "", [], {})
        }
        text = ", ".join(f"{k}={v}" for k, v in fields.items())
        table.add_row(str(i), event.type, text if len(text) < 300 else text[:297] + "...")
    console.print(table)


@click.command("ask")
@click.argument("prompt")
@click.option("--trace", is_flag=True, help="Show the request's events.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.option(
    "--worker", is_flag=True, help="Publish the request and wait for `selfeng worker` to answer it."
)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for a worker.")
@click.option(
    "--session",
    default=None,
    help="A conversation id: a follow-up (“now reverse the result”) uses its previous answer.",
)
@click.option(
    "--arm",
    default=None,
    metavar="FORK",
    help="The policy arm to answer with: a fork, or main (default: the running experiment "
    "assigns one, else main).",
)
@pass_context
def ask(
    ctx: Context,
    prompt: str,
    trace: bool,
    as_json: bool,
    worker: bool,
    timeout: float,
    session: str | None,
    arm: str | None,
) -> None:
    """Ask a question; selfeng answers with its tools (seeding the starter library first).

    It answers only when its tools account for the whole request; otherwise it says what it
    could not do (exit status 1)."""
    agent = Agent(ctx.app, worker=worker, client="cli")
    try:
        answer = agent.ask(prompt, timeout=timeout, session_id=session, arm=arm)
    except NoAnswer as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        print_json(
            {
                "request_id": answer.request_id,
                "ok": answer.ok,
                "answer": answer.text,
                "value": answer.value,
                "tools": list(answer.tools),
                "cached": answer.cached,
                "confidence": answer.confidence,
                "reason": answer.reason,
                "session_id": answer.session_id,
                "arm": answer.arm,
                "arm_note": answer.arm_note,
                "timings_ms": answer.timings,
            }
        )
    else:
        console.print(answer.text, markup=False)
        if answer.arm_note:
            err_console.print(f"arm {arm!r}: {answer.arm_note}", markup=False)
        if trace:
            _trace(answer.events)
    if not answer.ok:
        raise SystemExit(1)


@click.command("feedback")
@click.argument("request_id")
@click.argument("rating", type=click.Choice(["good", "bad"]))
@click.option("--comment", default="", help="What was good or bad.")
@click.option(
    "--worker",
    is_flag=True,
    help="Let `selfeng worker` apply it (waits for it to say what changed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@pass_context
def feedback(
    ctx: Context,
    request_id: str,
    rating: Literal["good", "bad"],
    comment: str,
    worker: bool,
    as_json: bool,
) -> None:
    """Rate the answer to a request: good confirms what it taught, bad takes it back, keeps
    its tool from answering that phrasing again and drops its cached results."""
    if not ctx.app.log.stream(request_id):
        raise click.ClickException(f"no request {request_id!r} in the log")
    result = Agent(ctx.app, worker=worker, client="cli").feedback(request_id, rating, comment)
    if as_json:
        print_json({"request_id": request_id, "rating": rating, "changed": result.changed})
    else:
        console.print(f"recorded: {rating}; {result.changed}", markup=False)


@click.command("worker")
@click.option(
    "--group",
    default="selfeng.worker",
    show_default=True,
    help="The consumer group (workers in one group share the work on Kafka).",
)
@click.option("--no-learners", is_flag=True, help="Only answer requests and verify proposed tools.")
@click.option(
    "--learners-only",
    is_flag=True,
    help="Only run the learners (each its own consumer group selfeng.learner.NAME).",
)
@pass_context
def worker(ctx: Context, group: str, no_learners: bool, learners_only: bool) -> None:
    """Answer requests, verify proposed tools and run the learners from the log, until Ctrl-C."""
    if no_learners and learners_only:
        raise click.UsageError("--no-learners and --learners-only exclude each other")
    stop = threading.Event()
    what = "learners" if learners_only else "requests" if no_learners else "requests and learners"
    err_console.print(f"worker on {ctx.app.log.url} ({what}, group {group}); Ctrl-C to stop")

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second signal: stop at once
            os._exit(128 + signum)
        err_console.print(
            f"{signal.Signals(signum).name}: finishing the current batch, then stopping"
        )
        stop.set()

    # SIGTERM (what Docker, systemd and Kubernetes send) drains like Ctrl-C: each consumer
    # finishes its batch and commits, then the worker exits 0
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        Worker(ctx.app, group=group, learners=not no_learners, requests=not learners_only).run(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


COMMANDS = [ask, feedback, worker]
