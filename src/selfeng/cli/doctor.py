"""``selfeng doctor``: what this installation will use, and what works here."""

from __future__ import annotations

import platform
import sys

import click
from rich.markup import escape

from selfeng import __version__
from selfeng.cli import Context
from selfeng.cli.render import console
from selfeng.core.backends import BackendError, open_sandbox, redacted
from selfeng.core.sandbox import SandboxUnavailable

pass_context = click.make_pass_decorator(Context)


@click.command("doctor")
@pass_context
def doctor(ctx: Context) -> None:
    """Show the log, store, sandbox and embedder in use, and which sandboxes work here."""
    s = ctx.settings
    console.print(f"selfeng {__version__}, Python {sys.version.split()[0]}, {platform.platform()}")
    # what comes from settings, URLs and errors is text, not markup ("selfeng[docker]")
    console.print(f"home      {escape(str(s.home))}")
    console.print(f"log       {escape(redacted(s.log_url))}")
    about = ", ".join(f"{k} {v}" for k, v in ctx.app.store.versions().items())
    store = redacted(s.store_url) + (f" ({about})" if about else "")
    console.print(f"store     {escape(store)}")
    console.print(f"embedder  {escape(s.embedder)}")
    sandbox = ctx.app.sandbox
    chosen = "" if s.sandbox_url else "  (the strongest that works here)"
    print_description("sandbox   ", sandbox.describe(), chosen)
    for url in ("bwrap://?workers=0", "subprocess://?workers=0", "docker://?workers=0"):
        try:
            with open_sandbox(url) as candidate:
                print_description(f"  {url:<24} [green]works[/green]: ", candidate.describe())
        except (SandboxUnavailable, BackendError) as exc:
            console.print(f"  {url:<24} [yellow]unavailable[/yellow]: {escape(str(exc))}")
    llm = ctx.app.llm
    if llm is None:
        console.print(
            "LLM       none: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (a vLLM, Ollama or "
            "llama.cpp server) and OPENAI_MODEL; tools are then written and repaired on demand"
        )
    else:
        where = s.llm_env.get("OPENAI_BASE_URL") or "api.openai.com"
        console.print(f"LLM       {escape(llm.name)} at {escape(where)}")


def print_description(label: str, description: str, suffix: str = "") -> None:
    """A sandbox's ``describe()``: its name on the label's line, then one line per part (what
    each wall stops, and what nothing there stops)."""
    head, *parts = description.split("; ")
    console.print(f"{label}{escape(head)}{escape(suffix)}")
    for part in parts:
        console.print(f"            {escape(part)}", highlight=False)


COMMANDS = [doctor]
