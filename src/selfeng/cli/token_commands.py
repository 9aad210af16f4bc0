"""``selfeng token create|revoke|list``: bearer tokens for the HTTP API, kept as events."""

from __future__ import annotations

from typing import get_args

import click
from rich.table import Table

from selfeng.cli import Context
from selfeng.cli.render import console, err_console, print_json
from selfeng.core.log import ConcurrencyConflict
from selfeng.producers.http.tokens import create_token, fold_tokens, revoke_token
from selfeng.schemas.access import Role

pass_context = click.make_pass_decorator(Context)


@click.group("token")
def token() -> None:
    """Bearer tokens for `selfeng serve`: the log keeps their SHA-256, never the secret."""


@token.command("create")
@click.option("--role", type=click.Choice(get_args(Role)), required=True, help="What it may do.")
@click.option("--name", default=None, help="A name to list and revoke it by.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_context
def create(ctx: Context, role: Role, name: str | None, as_json: bool) -> None:
    """Issue a token. Its secret is printed once and stored nowhere: keep it."""
    try:
        issued, secret = create_token(ctx.app.log, role, name)
    except (ValueError, ConcurrencyConflict) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from exc
    if as_json:
        print_json({"id": issued.token_id, "name": issued.name, "role": role, "token": secret})
        return
    err_console.print(f"token {issued.token_id} ({role}); the secret is shown once:")
    click.echo(secret)


@token.command("revoke")
@click.argument("which", metavar="ID|NAME")
@click.option("--reason", default="", help="Why.")
@pass_context
def revoke(ctx: Context, which: str, reason: str) -> None:
    """Stop accepting a token (every server of the log within a second)."""
    revoked = revoke_token(ctx.app.log, which, reason=reason)
    console.print(
        f"revoked token {revoked.token_id}" + (f" ({revoked.name})" if revoked.name else "")
    )


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def list_tokens(ctx: Context, as_json: bool) -> None:
    """The live tokens (ids, names, roles; never secrets)."""
    tokens = sorted(fold_tokens(ctx.app.log).values(), key=lambda t: t.created_at)
    if as_json:
        print_json(
            [
                {"id": t.token_id, "name": t.name, "role": t.role, "created_at": t.created_at}
                for t in tokens
            ]
        )
        return
    table = Table("id", "name", "role", "created")
    for t in tokens:
        table.add_row(t.token_id, t.name or "", t.role, t.created_at)
    console.print(table if tokens else "no tokens; create one with `selfeng token create --role R`")


COMMANDS = [token]
