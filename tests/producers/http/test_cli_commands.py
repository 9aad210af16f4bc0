"""``selfeng token`` and ``selfeng serve`` from the command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from click.testing import CliRunner, Result

from selfeng.cli import main


def run(home: Path, *args: str) -> Result:
    env = {"SELFENG_HOME": str(home), "SELFENG_LOG": "", "SELFENG_STORE": "", "COLUMNS": "200"}
    return CliRunner().invoke(main, list(args), env=env)


def test_tokens_are_created_listed_and_revoked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = run(home, "token", "create", "--role", "admin", "--name", "ops", "--json")
    assert created.exit_code == 0, created.output
    token = orjson.loads(created.output)
    assert token["token"].startswith("sfe_")
    assert token["role"] == "admin"
    again = run(home, "token", "create", "--role", "client", "--name", "ops")
    assert again.exit_code == 1
    assert "already named 'ops'" in again.output
    assert run(home, "token", "create", "--role", "root").exit_code == 2
    listed = orjson.loads(run(home, "token", "list", "--json").output)
    assert [(t["id"], t["name"], t["role"]) for t in listed] == [(token["id"], "ops", "admin")]
    assert token["token"] not in run(home, "token", "list").output
    assert run(home, "token", "revoke", "ops").exit_code == 0
    assert orjson.loads(run(home, "token", "list", "--json").output) == []
    missing = run(home, "token", "revoke", "ops")
    assert missing.exit_code == 1
    assert "no live token" in missing.output


def test_serve_refuses_insecure_access_off_localhost(tmp_path: Path) -> None:
    result = run(tmp_path / "home", "serve", "--insecure-localhost", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "only on 127.0.0.1 or ::1" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_answers_over_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SELFENG_HOME": str(tmp_path / "home")}
    for name in ("SELFENG_LOG", "SELFENG_STORE"):
        env.pop(name, None)
    server = subprocess.Popen(
        [sys.executable, "-m", "selfeng", "serve", "--port", str(port), "--insecure-localhost"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "selfeng serve did not start"
            time.sleep(0.1)
        answer = httpx.post(
            f"{url}/v1/requests", params={"wait": 10}, json={"prompt": "What is 25% of 100?"}
        )
        assert answer.json()["answer"] == "25"
        assert "selfeng" in httpx.get(url).text
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it (as the exit status)
    assert server.returncode in (0, -signal.SIGTERM), err.decode()
    assert b"dashboard and API at" in err
