"""Starting a sandbox worker: the loaders define its modules in an order that works."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import orjson
import pytest

from selfeng.infra.sandbox import launch
from selfeng.infra.sandbox.subprocess import real_python

HERE = Path(launch.__file__).parent


def test_each_module_finds_the_ones_it_needs_defined_before_it() -> None:
    for index, name in enumerate(launch.MODULES):
        source = (HERE / f"{name}.py").read_text(encoding="utf-8")
        needed = re.findall(r'sys\.modules\.get\("selfeng_sandbox_(\w+)"\)', source)
        assert set(needed) <= set(launch.MODULES[:index]), name


def _ping(argv: list[str], stdin: bytes, workdir: Path) -> dict[str, object]:
    """Start a worker without walls, say ping, and return its hello."""
    worker = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=workdir)
    try:
        reply, _ = worker.communicate(stdin + b'{"id": 1, "op": "ping"}\n', timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    hello, pong = (orjson.loads(line) for line in reply.splitlines())
    assert pong["ok"] is True
    assert worker.returncode == 0
    return dict(hello)


@pytest.mark.parametrize("compiled", [True, False], ids=["bytecode on stdin", "sources in argv"])
def test_a_worker_starts_from_either_loader(compiled: bool, tmp_path: Path) -> None:
    config = {"preload": [], "workdir": str(tmp_path)}
    if compiled:
        argv, stdin = launch.launch_compiled(real_python(), config)
    else:
        argv, stdin = launch.launch_command(real_python(), config), b""
    hello = _ping(argv, stdin, tmp_path)
    assert "error" not in hello
    assert hello["hello"] == 1
