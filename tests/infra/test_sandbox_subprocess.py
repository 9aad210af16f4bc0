"""The sandbox contract on ``subprocess://``, plus what only that backend promises."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from selfeng.core.backends import BackendError, open_sandbox
from selfeng.core.sandbox import Sandbox, SandboxUnavailable
from selfeng.infra.sandbox import strongest as sandbox_select
from selfeng.infra.sandbox import subprocess as sandbox_subprocess
from selfeng.infra.sandbox.subprocess import (
    WORKDIR_PREFIX,
    SubprocessSandbox,
    closed_ancestors,
    exec_note,
    landlock_abi,
    network_namespace,
    sweep_dead_workdirs,
)
from tests.contract.sandbox_contract import IDENTITY, QUICK, SandboxContract, tool

ROOT = os.geteuid() == 0
LANDLOCK = landlock_abi() > 0
NETWORK = bool(network_namespace()[0])
CLOSED = closed_ancestors()  # /root when the interpreter is pyenv's under a 0700 /root
needs_landlock = pytest.mark.skipif(not LANDLOCK, reason="this kernel has no Landlock")
needs_root = pytest.mark.skipif(not ROOT, reason="private uids need root")


class TestSubprocessSandbox(SandboxContract):
    network_isolated = NETWORK
    blocks_tmp_writes = LANDLOCK  # without Landlock a private uid may write world-writable /tmp
    blocks_own_files = ROOT or LANDLOCK  # else the tool runs as this user, who owns the repo
    confines_calls = LANDLOCK
    hides_root_files = ROOT or LANDLOCK
    reaps_escaped_processes = ROOT
    enforces_process_limit = ROOT

    @classmethod
    def create_sandbox(cls, *, guard: bool = True, workers: int = 2) -> Sandbox:
        # where the machine lacks a wall, ask for less (the defaults would refuse to open)
        return walled(workers=workers, guard=guard)


def walled(**options: Any) -> SubprocessSandbox:
    """A sandbox with every wall this machine can give (the defaults refuse to open without)."""
    return SubprocessSandbox(isolate_network=NETWORK, confine_files=LANDLOCK, **options)


READ_AND_WRITE = "import os\n" + tool(
    "seen = {}\n"
    "for path in ('/etc/shadow', '/root', '/tmp/' + name):\n"
    "    try:\n"
    "        if path.startswith('/tmp/'):\n"
    "            seen[path] = open(path, 'w').write('x')\n"
    "        elif os.path.isdir(path):\n"
    "            seen[path] = os.listdir(path)\n"
    "        else:\n"
    "            seen[path] = open(path).read(10)\n"
    "    except OSError as exc:\n"
    "        seen[path] = type(exc).__name__\n"
    "return seen",
    "name",
)
"""A tool that reads /etc/shadow, lists /root and writes /tmp, and says what happened."""


@needs_landlock
@needs_root
def test_landlock_holds_even_for_root() -> None:
    name = f"selfeng-probe-{os.getpid()}"
    try:
        with walled(workers=0, guard=False, private_uid=False) as sandbox:
            seen = sandbox.run(READ_AND_WRITE, "f", {"name": name}, QUICK).value
    finally:
        probe_exists = os.path.exists(f"/tmp/{name}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/tmp/{name}")
    assert seen == dict.fromkeys(("/etc/shadow", "/root", f"/tmp/{name}"), "PermissionError")
    assert not probe_exists


@needs_root
def test_the_private_uid_alone_keeps_no_capability_and_sees_no_root_files() -> None:
    code = "import os, sys\n" + tool(
        "caps = [line for line in open('/proc/self/status') if line.startswith('CapEff')]\n"
        "try:\n"
        "    root = os.listdir('/root')\n"
        "except OSError as exc:\n"
        "    root = type(exc).__name__\n"
        "return [caps, root, all(os.listdir(p) for p in sys.path if os.path.isdir(p))]"
    )
    with SubprocessSandbox(
        workers=1, guard=False, confine_files=False, isolate_network=NETWORK
    ) as sandbox:
        seen = sandbox.run(code, "f", {}).value
        description = sandbox.describe()
    assert seen == [["CapEff:\t0000000000000000\n"], "PermissionError", True]
    if CLOSED:
        assert f"root-only files: hidden (own mount namespace: {CLOSED[0]}" in description
    assert "files: NOT confined (confine_files=false)" in description


@needs_landlock
@needs_root
@pytest.mark.skipif(not CLOSED, reason="the interpreter is world-readable: nothing to hide")
def test_without_a_mount_namespace_only_landlock_guards_root_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox_subprocess, "mount_namespace", lambda prefix: [])
    name = f"selfeng-probe-{os.getpid()}"
    with walled(workers=0, guard=False) as sandbox:
        assert sandbox.read_cap
        assert "only Landlock stops reading them" in sandbox.describe()
        seen = sandbox.run(READ_AND_WRITE, "f", {"name": name}, QUICK).value
    assert seen == dict.fromkeys(("/etc/shadow", "/root", f"/tmp/{name}"), "PermissionError")
    assert not os.path.exists(f"/tmp/{name}")


@needs_landlock
def test_describe_says_what_is_prevented_and_what_is_not() -> None:
    with walled(workers=0) as sandbox:
        description = sandbox.describe()
    abi = landlock_abi()
    assert f"files (Landlock ABI {abi}): reads only the interpreter's stdlib" in description
    assert f"writes only its own directory (not /tmp, /dev/shm, /var/tmp), {exec_note()}" in (
        description
    )
    assert (", no TCP" in description) is (abi >= 4 and NETWORK)
    assert ("signals and abstract UNIX sockets scoped" in description) is (abi >= 6)
    assert "not prevented: reading file metadata" in description
    if ROOT:
        assert "private uid without capabilities" in description
        assert "CAP_DAC_READ_SEARCH" not in description


def test_a_missing_wall_refuses_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_subprocess, "landlock_abi", lambda: 0)
    with pytest.raises(
        SandboxUnavailable, match=r"no Landlock .*subprocess://\?confine_files=false"
    ):
        SubprocessSandbox(workers=0)
    with SubprocessSandbox(workers=0, confine_files=False, isolate_network=NETWORK) as sandbox:
        assert "files: NOT confined" in sandbox.describe()
    no_unshare: tuple[list[str], str] = ([], "network: NOT isolated (no unshare binary)")
    monkeypatch.setattr(sandbox_subprocess, "network_namespace", lambda: no_unshare)
    with pytest.raises(
        SandboxUnavailable, match=r"no unshare binary; subprocess://\?isolate_network=false"
    ):
        SubprocessSandbox(workers=0, confine_files=False)
    monkeypatch.setattr(sandbox_select, "bwrap_problem", lambda: "bubblewrap is not installed")
    assert "no Landlock" in sandbox_select.describe_choice()
    with pytest.raises(SandboxUnavailable, match="confine_files=false"):
        sandbox_select.strongest_sandbox("workers=0")
    with open_sandbox("subprocess://?workers=0&confine_files=false&isolate_network=false") as box:
        assert box.run(IDENTITY, "f", {"x": 1}).value == 1


def test_a_worker_killed_from_outside_is_replaced() -> None:
    with walled(workers=1) as sandbox:
        [worker] = sandbox.workers()
        os.kill(int(worker.label.removeprefix("pid ")), signal.SIGKILL)
        time.sleep(0.05)
        assert sandbox.run(IDENTITY, "f", {"x": 5}).value == 5
        [replacement] = sandbox.workers()
        assert replacement.id != worker.id


@pytest.mark.skipif(not ROOT, reason="private uids need root")
def test_calls_run_as_a_private_uid_without_secrets() -> None:
    code = "import os\ndef f():\n    return [os.getuid(), sorted(os.environ)]\n"
    with walled(workers=1) as sandbox:
        seen = sandbox.run(code, "f", {}).value
    assert isinstance(seen, list), seen
    uid, env = seen
    assert isinstance(uid, int), uid
    assert uid >= 1_500_000_000
    assert env == ["HOME", "LANG", "LC_ALL", "MALLOC_ARENA_MAX", "PATH", "TMPDIR"]


@pytest.mark.skipif(not ROOT, reason="private uids need root")
def test_closing_kills_what_a_sabotaged_call_left() -> None:
    code = "import os, sys, time\n" + tool(
        "os.kill = lambda *args: None  # no cleanup at the end of the call\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.setsid()\n"
        "    os.closerange(0, 1024)\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "return pid"
    )
    with walled(workers=1, guard=False) as sandbox:
        pid = sandbox.run(code, "f", {}).value
        assert isinstance(pid, int)
        assert _running(pid)  # it escaped the call...
    assert not _running(pid)  # ...not the sandbox


def _running(pid: int) -> bool:
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state != "Z":
            return True
        time.sleep(0.01)
    return False


def test_the_url_sets_the_options() -> None:
    walls = f"isolate_network={str(NETWORK).lower()}&confine_files={str(LANDLOCK).lower()}"
    with open_sandbox(f"subprocess://?workers=1&guard=false&{walls}") as sandbox:
        assert isinstance(sandbox, SubprocessSandbox)
        assert len(sandbox.workers()) == 1
        assert not sandbox.guard
        assert "guard off" in sandbox.describe()


def test_a_bad_url_option_names_itself() -> None:
    with pytest.raises(BackendError, match="unknown subprocess URL option"):
        open_sandbox("subprocess://?wrokers=2")
    with pytest.raises(BackendError, match="workers must be a int"):
        open_sandbox("subprocess://?workers=many")
    with pytest.raises(BackendError, match="workers must be 0"):
        open_sandbox("subprocess://?workers=-1")


def test_the_directories_of_a_killed_process_are_removed_by_the_next() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    tmp = Path(tempfile.gettempdir())
    dead = tmp / f"{WORKDIR_PREFIX}{gone.pid}-test"
    mine = tmp / f"{WORKDIR_PREFIX}{os.getpid()}-test"
    for base in (dead, mine):
        (base / "work").mkdir(parents=True)
    try:
        removed = sweep_dead_workdirs.__wrapped__()
        assert dead in removed
        assert not dead.exists()
        assert mine.exists()
    finally:
        shutil.rmtree(dead, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)
