"""Choosing the strongest sandbox, and opening sandboxes by URL."""

from __future__ import annotations

import pytest

from selfeng.core.backends import BackendError, open_sandbox
from selfeng.core.sandbox import SandboxUnavailable
from selfeng.infra.sandbox import strongest as sandbox_select
from selfeng.infra.sandbox.bwrap import BwrapSandbox, bwrap_problem
from selfeng.infra.sandbox.subprocess import SubprocessSandbox
from tests.contract.sandbox_contract import IDENTITY


def test_the_strongest_is_bwrap_where_it_works() -> None:
    url, reason = sandbox_select.strongest_url()
    if bwrap_problem() is None:
        assert (url, reason) == ("bwrap://", "bubblewrap creates its namespaces here")
        with open_sandbox("auto://?workers=1") as sandbox:
            assert isinstance(sandbox, BwrapSandbox)
            assert sandbox.run(IDENTITY, "f", {"x": 3}).value == 3
    else:
        assert url == "subprocess://"
    assert sandbox_select.describe_choice().startswith(f"sandbox: {url} (")


def test_without_bwrap_it_falls_back_to_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_select, "bwrap_problem", lambda: "bubblewrap is not installed")
    assert sandbox_select.strongest_url() == (
        "subprocess://",
        "bwrap:// is unavailable: bubblewrap is not installed",
    )
    with sandbox_select.strongest_sandbox("workers=0") as sandbox:
        assert isinstance(sandbox, SubprocessSandbox)
    assert "docker:// only when asked" in sandbox_select.describe_choice()


def test_urls_name_the_backends() -> None:
    with open_sandbox("subprocess://?workers=0") as sandbox:
        assert isinstance(sandbox, SubprocessSandbox)
    with pytest.raises(BackendError, match="known: subprocess://, bwrap://, docker://, auto://"):
        open_sandbox("firejail://")
    with pytest.raises(BackendError, match="unknown bwrap URL option"):
        open_sandbox("bwrap://?network=yes")
    with pytest.raises(BackendError, match="guard must be a bool"):
        open_sandbox("subprocess://?guard=maybe")


def test_a_sandbox_that_cannot_run_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from selfeng.infra.sandbox import bwrap as sandbox_bwrap

    monkeypatch.setattr(sandbox_bwrap, "bwrap_problem", lambda: "no user namespaces")
    with pytest.raises(SandboxUnavailable, match="no user namespaces"):
        open_sandbox("bwrap://")
