"""``selfeng serve``: the HTTP API and live dashboard (``pip install 'selfeng[http]'``)."""

from __future__ import annotations

import os

import click

from selfeng.cli import Context
from selfeng.cli.render import err_console

pass_context = click.make_pass_decorator(Context)

LOOPBACK = frozenset({"127.0.0.1", "::1"})
"""The addresses ``--insecure-localhost`` may listen on."""


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, help="The port.")
@click.option(
    "--workers", default=1, show_default=True, help="uvicorn worker processes (each opens the log)."
)
@click.option(
    "--worker",
    "publish_only",
    is_flag=True,
    help="Only publish requests; `selfeng worker` processes on the log answer them.",
)
@click.option(
    "--insecure-localhost",
    is_flag=True,
    help="Accept calls without a token as admin; only when listening on 127.0.0.1 or ::1.",
)
@click.option(
    "--max-body",
    default=1 << 20,
    show_default=True,
    help="The largest request body accepted, in bytes (larger ones get 413).",
)
@pass_context
def serve(
    ctx: Context,
    host: str,
    port: int,
    workers: int,
    publish_only: bool,
    insecure_localhost: bool,
    max_body: int,
) -> None:
    """Serve the HTTP API (/v1/..., OpenAPI at /docs) and the live dashboard (/).

    Calls need a bearer token (`selfeng token create --role client|admin`)."""
    try:
        import uvicorn

        from selfeng.producers.http import app as http_app
        from selfeng.producers.http.service import Service
    except ImportError as exc:
        raise click.ClickException(
            f"the HTTP API needs its extra: pip install 'selfeng[http]' ({exc.name} missing)"
        ) from exc
    if insecure_localhost and host not in LOOPBACK:
        raise click.UsageError(
            f"--insecure-localhost serves without tokens: only on 127.0.0.1 or ::1, not {host}"
        )
    if workers < 1:
        raise click.BadParameter("at least 1", param_hint="--workers")
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    note = " (no token needed: --insecure-localhost)" if insecure_localhost else ""
    err_console.print(f"selfeng on {ctx.settings.log_url}: dashboard and API at {where}{note}")
    if workers == 1:
        service = Service(ctx.app, worker=publish_only, max_body=max_body)
        app = http_app.create_app(service, insecure_localhost=insecure_localhost, owns=False)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    settings = ctx.settings
    os.environ.update(
        {
            "SELFENG_HOME": str(settings.home),
            "SELFENG_LOG": settings.log_url,
            "SELFENG_STORE": settings.store_url,
            "SELFENG_EMBEDDER": settings.embedder,
            http_app.ENV_WORKER: "1" if publish_only else "0",
            http_app.ENV_INSECURE: "1" if insecure_localhost else "0",
            http_app.ENV_MAX_BODY: str(max_body),
        }
    )
    if settings.sandbox_url:
        os.environ["SELFENG_SANDBOX"] = settings.sandbox_url
    uvicorn.run(
        "selfeng.producers.http.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


COMMANDS = [serve]
