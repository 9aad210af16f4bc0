"""The sandbox contract on ``bwrap://``, plus what only bubblewrap promises."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from selfeng.core.sandbox import Sandbox, SandboxUnavailable
from selfeng.infra.sandbox import bwrap as sandbox_bwrap
from selfeng.infra.sandbox.bwrap import BwrapSandbox, bwrap_problem
from selfeng.infra.sandbox.subprocess import landlock_abi
from tests.contract.sandbox_contract import SandboxContract, tool

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))


class TestBwrapSandbox(SandboxContract):
    reaps_escaped_processes = os.geteuid() == 0
    enforces_process_limit = os.geteuid() == 0
    confines_calls = landlock_abi() > 0

    @classmethod
    def create_sandbox(cls, *, guard: bool = True, workers: int = 2) -> Sandbox:
        return BwrapSandbox(workers=workers, guard=guard)

    @pytest.fixture(scope="class")
    @classmethod
    def layer(cls) -> Iterator[Sandbox]:
        """bubblewrap's own walls, without the guard or Landlock (which would hide them)."""
        with BwrapSandbox(workers=1, guard=False, landlock=False) as sandbox:
            yield sandbox

    def test_landlock_is_on_where_the_kernel_has_it(self, bare: Sandbox) -> None:
        described = bare.describe()
        if landlock_abi():
            assert f"files (Landlock ABI {landlock_abi()}): reads only" in described
            code = "import os\n" + tool("return os.listdir('/home')")
            assert bare.run(code, "f", {}).error_kind == "forbidden"
        else:
            assert "files: no Landlock (the kernel lacks it)" in described

    def test_the_system_is_private(self, layer: Sandbox) -> None:
        bare = layer
        code = "import os\n" + tool(
            "return {'processes': len([p for p in os.listdir('/proc') if p.isdigit()]),"
            " 'home': os.listdir('/home'), 'tmp': os.listdir('/tmp'), 'cwd': os.getcwd(),"
            " 'run': os.listdir('/run'), 'root': sorted(os.listdir('/root'))}"
        )
        seen = bare.run(code, "f", {}).value
        assert isinstance(seen, dict)
        processes = seen["processes"]
        assert isinstance(processes, int), processes
        assert processes <= 3  # bwrap's init, the worker, this call
        assert (seen["home"], seen["tmp"], seen["run"]) == ([], ["work"], [])
        assert seen["cwd"] == "/tmp/work"
        assert seen["root"] in ([], [".pyenv"])  # only the interpreter, bound back

    def test_no_capabilities_are_left(self, layer: Sandbox) -> None:
        code = tool("return [line for line in open('/proc/self/status') if 'CapEff' in line]")
        assert layer.run(code, "f", {}).value == ["CapEff:\t0000000000000000\n"]

    def test_the_system_cannot_be_remounted(self, bare: Sandbox) -> None:
        code = "import os\n" + tool("return os.system('mount -o remount,rw / 2>&1; touch /x')")
        assert bare.run(code, "f", {}).value != 0
        assert not os.path.exists("/x")


def test_no_bwrap_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = sandbox_bwrap.bwrap_problem.__wrapped__
    monkeypatch.setattr(shutil, "which", lambda _: None)
    assert "not installed" in (probe() or "")
    monkeypatch.setattr(sandbox_bwrap, "bwrap_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(SandboxUnavailable, match="not installed"):
        BwrapSandbox()
