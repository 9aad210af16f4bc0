"""``selfeng faust worker`` and ``selfeng faust state``: the projections on a faust worker.

Both use the log of ``--log`` / ``SELFENG_LOG``, which must be a ``kafka://`` URL, and need
the ``faust`` extra for the worker (``state`` reads the changelogs with kafka-python only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from selfeng.cli import Context
from selfeng.cli.render import console, print_json

pass_context = click.make_pass_decorator(Context)
F = TypeVar("F", bound=Callable[..., Any])


def _kafka_url(ctx: Context) -> str:
    url = ctx.settings.log_url
    if not url.startswith("kafka://"):
        raise click.ClickException(
            f"faust workers run on a Kafka log: give --log kafka://HOST:PORT, not {url!r}"
        )
    return url


@click.group("faust")
def faust_group() -> None:
    """Fold the projections with a faust-streaming worker (Kafka logs only)."""


def _loglevel(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--loglevel",
        default="warning",
        show_default=True,
        type=click.Choice(["debug", "info", "warning", "error"]),
        help=help_text,
    )


@faust_group.command("worker")
@_loglevel("How much the worker logs (info: where the fold resumed).")
@pass_context
def worker(ctx: Context, loglevel: str) -> None:
    """Run a faust worker folding every projection of the main line, until Ctrl-C.

    Its state is kept in faust tables with changelog topics (``{namespace}.selfeng-faust-*``)
    and a restarted worker resumes where it stopped.
    """
    url = _kafka_url(ctx)
    try:
        from selfeng.infra.faust.app import run_worker
    except ImportError as exc:
        raise _not_installed(exc) from exc
    run_worker(url, loglevel=loglevel, datadir=ctx.settings.home / "faust")


@faust_group.command("serve")
@_loglevel("How much the worker logs.")
@click.option("--no-learners", is_flag=True, help="Answer requests only.")
@click.option("--learners-only", is_flag=True, help="Run the learners only.")
@pass_context
def serve(ctx: Context, loglevel: str, no_learners: bool, learners_only: bool) -> None:
    """Answer requests and run the learners as agents of a faust app, until Ctrl-C.

    Run as many as you like: faust splits the topics' partitions between them. The home
    (--home) keeps this worker's embedded projections, as `selfeng worker`'s does.
    """
    _kafka_url(ctx)
    if no_learners and learners_only:
        raise click.UsageError("--no-learners and --learners-only leave nothing to run")
    try:
        from selfeng.faust_agents import run_service
    except ImportError as exc:
        raise _not_installed(exc) from exc
    run_service(
        ctx.settings, requests=not learners_only, learners=not no_learners, loglevel=loglevel
    )


def _not_installed(exc: ImportError) -> click.ClickException:
    return click.ClickException(
        f"faust-streaming is not installed ({exc}): pip install 'selfeng[faust]'"
    )


@faust_group.command("state")
@click.argument("projection", required=False)
@pass_context
def state(ctx: Context, projection: str | None) -> None:
    """Print a projection's state as the faust worker's tables hold it (or, without a
    name, each projection's position)."""
    from selfeng.infra.faust.read import read_fold

    folded = read_fold(_kafka_url(ctx))
    if projection is not None:
        print_json(folded.dumped(projection))
        return
    for name in folded.names():
        note = f" (no usable table: {folded.rebuilt[name]})" if name in folded.rebuilt else ""
        console.print(f"{name}: {folded.events_applied(name):,} record(s) folded{note}")
    console.print(f"at {folded.position}")


COMMANDS = [faust_group]
