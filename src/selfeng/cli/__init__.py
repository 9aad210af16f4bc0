"""The ``selfeng`` command-line program."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import click

from selfeng import __version__
from selfeng.app import Selfeng
from selfeng.core.backends import BackendError
from selfeng.core.log import LogError
from selfeng.core.settings import Settings


class Context:
    """What every command gets: the settings, and the runtime opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._app: Selfeng | None = None

    @property
    def app(self) -> Selfeng:
        """The open runtime (log, store, engine)."""
        if self._app is None:
            self._app = Selfeng.open(self.settings)
            moved = getattr(self._app.store, "moved_aside", None)
            if moved is not None:
                from selfeng.cli.render import err_console

                err_console.print(
                    f"the projection store could not be read: kept as {moved}, rebuilt from the log"
                )
        return self._app

    def close(self) -> None:
        """Close the runtime if it was opened."""
        if self._app is not None:
            self._app.close()
            self._app = None


class _Group(click.Group):
    """Turns the errors a user can cause into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (LogError, BackendError) as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            # a damaged log is refused, never repaired or appended to by guesswork
            raise click.ClickException(
                f"a SQLite file of this home is damaged ({exc}); the projection store is "
                "rebuilt by itself, the log is not: restore log.db from a backup"
            ) from exc
        except UnicodeDecodeError as exc:
            raise click.ClickException(
                f"not UTF-8 text (byte {exc.object[exc.start : exc.start + 1]!r} at {exc.start})"
            ) from exc
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    envvar="SELFENG_HOME",
    type=click.Path(file_okay=False),
    help="Where the embedded log and store live [env SELFENG_HOME; default ~/.selfeng].",
)
@click.option(
    "--log",
    "log_url",
    envvar="SELFENG_LOG",
    metavar="URL",
    help="The log: sqlite:///PATH, kafka://HOST:PORT[?namespace=..] or memory:// "
    "[env SELFENG_LOG; default the SQLite file in the home].",
)
@click.option(
    "--store",
    "store_url",
    envvar="SELFENG_STORE",
    metavar="URL",
    help="The projection store: sqlite:///PATH or memory:// [env SELFENG_STORE].",
)
@click.option(
    "--sandbox",
    "sandbox_url",
    envvar="SELFENG_SANDBOX",
    metavar="URL",
    help="Where tools run: bwrap://, subprocess:// or docker:// "
    "[env SELFENG_SANDBOX; default the strongest that works here].",
)
@click.option(
    "--embedder",
    envvar="SELFENG_EMBEDDER",
    metavar="NAME",
    help="Tool search: lexical, minilm or openai:MODEL [env SELFENG_EMBEDDER].",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens inside.")
@click.version_option(__version__, prog_name="selfeng")
@click.pass_context
def main(
    ctx: click.Context,
    home: str | None,
    log_url: str | None,
    store_url: str | None,
    sandbox_url: str | None,
    embedder: str | None,
    verbose: bool,
) -> None:
    """selfeng: a self-learning, self-engineering agent on an append-only event log.

    Every step is an event on the log; everything selfeng knows is a projection of it.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    context = Context(
        Settings.resolve(
            home=home, log=log_url, store=store_url, sandbox=sandbox_url, embedder=embedder
        )
    )
    ctx.obj = context
    ctx.call_on_close(context.close)


def _register() -> None:
    from selfeng.cli import (
        demo,
        doctor,
        experiment_commands,
        faust_commands,
        learn_commands,
        log_commands,
        projection_commands,
        request_commands,
        schema_commands,
        serve_commands,
        synth_commands,
        token_commands,
        tool_commands,
    )

    for module in (
        request_commands,
        tool_commands,
        synth_commands,
        learn_commands,
        log_commands,
        projection_commands,
        experiment_commands,
        schema_commands,
        serve_commands,
        token_commands,
        doctor,
        faust_commands,
        demo,
    ):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
