"""The sandbox contract on ``subprocess://``, plus what only that backend promises."""

from __future__ import annotations

import os
import signal
import time

import pytest

from selfeng.core.backends import BackendError, open_sandbox
from selfeng.core.sandbox import Sandbox
from selfeng.infra.sandbox_subprocess import SubprocessSandbox, network_namespace
from tests.contract.sandbox_contract import IDENTITY, SandboxContract, tool

ROOT = os.geteuid() == 0


class TestSubprocessSandbox(SandboxContract):
    network_isolated = bool(network_namespace()[0])
    blocks_tmp_writes = False  # a private uid may still write world-writable /tmp
    blocks_own_files = ROOT  # not root: the tool runs as this user, who owns the repo
    reaps_escaped_processes = ROOT
    enforces_process_limit = ROOT

    @classmethod
    def create_sandbox(cls, *, guard: bool = True, workers: int = 2) -> Sandbox:
        return SubprocessSandbox(workers=workers, guard=guard)


def test_a_worker_killed_from_outside_is_replaced() -> None:
    with SubprocessSandbox(workers=1) as sandbox:
        [worker] = sandbox.workers()
        os.kill(int(worker.label.removeprefix("pid ")), signal.SIGKILL)
        time.sleep(0.05)
        assert sandbox.run(IDENTITY, "f", {"x": 5}).value == 5
        [replacement] = sandbox.workers()
        assert replacement.id != worker.id


@pytest.mark.skipif(not ROOT, reason="private uids need root")
def test_calls_run_as_a_private_uid_without_secrets() -> None:
    code = "import os\ndef f():\n    return [os.getuid(), sorted(os.environ)]\n"
    with SubprocessSandbox(workers=1) as sandbox:
        uid, env = sandbox.run(code, "f", {}).value  # type: ignore[misc]
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
    with SubprocessSandbox(workers=1, guard=False) as sandbox:
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
    with open_sandbox("subprocess://?workers=1&guard=false") as sandbox:
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
