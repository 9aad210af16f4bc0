"""``bwrap://``: the subprocess sandbox, with each worker inside bubblewrap namespaces.

Every worker runs as ``bwrap --unshare-net --unshare-pid --unshare-ipc --unshare-uts
--die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp ...``:
no network at all (its own empty network namespace), its own process tree (a fork bomb
or a leftover process dies with the worker), a read-only view of the whole system, a
private ``/tmp``, ``/run``, ``/root`` and ``/home`` hidden behind empty tmpfs (the
interpreter's own directory is bound back read-only if it lives there), and one writable
place: its working directory, bound at ``/tmp/work``.

As root, bubblewrap would keep every capability inside (so a tool could remount the system
writable); the worker gets only ``CAP_SETUID`` and ``CAP_SETGID``, and each call drops to
the worker's private uid with no capability at all (as in ``subprocess://``), so
``RLIMIT_NPROC`` holds, the tool cannot signal its worker, and root-only sockets stay shut.

Where the kernel has Landlock, each call also enters the same Landlock ruleset as in
``subprocess://`` (defence in depth: it reads only the interpreter and its directory,
writes only its directory, executes nothing, opens no TCP socket); bubblewrap's own walls do
not depend on it, so a kernel without Landlock still runs ``bwrap://``.

Options: ``bwrap://?workers=2&guard=true&hide=/root,/home&landlock=true`` (``workers=0``: a
fresh sandbox per call).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Final

from selfeng.core.sandbox import SandboxUnavailable
from selfeng.infra.sandbox.pool import STARTUP_TIMEOUT_S, parse_options
from selfeng.infra.sandbox.subprocess import SubprocessSandbox, landlock_abi, real_python

INSIDE: Final = "/tmp/work"
"""Where a worker's directory appears inside its sandbox."""

HIDDEN: Final = ("/root", "/home")
"""Directories replaced by an empty tmpfs by default (secrets, the user's data)."""

_OPTIONS: Final = {
    "workers": int,
    "guard": bool,
    "hide": tuple,
    "landlock": bool,
    "startup_timeout": float,
}


class BwrapSandbox(SubprocessSandbox):
    """Warm workers inside bubblewrap: no network, read-only system, private everything."""

    name = "bwrap"

    def __init__(
        self,
        *,
        workers: int = 2,
        guard: bool = True,
        hide: tuple[str, ...] = HIDDEN,
        landlock: bool = True,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        problem = bwrap_problem()
        if problem is not None:
            raise SandboxUnavailable(problem)
        self.bwrap = shutil.which("bwrap") or "bwrap"
        """The bubblewrap binary."""
        self.hide = tuple(d for d in hide if os.path.isdir(d))
        """The directories hidden behind an empty tmpfs."""
        super().__init__(
            workers=workers,
            guard=guard,
            isolate_network=False,  # bubblewrap's own namespace does it
            confine_files=landlock and landlock_abi() > 0,  # where the kernel has it
            startup_timeout=startup_timeout,
        )

    @classmethod
    def from_url(cls, url: str) -> BwrapSandbox:
        """Open the sandbox a ``bwrap://`` URL describes."""
        return cls(**parse_options(url, "bwrap", _OPTIONS))

    def inside(self, workdir: Path) -> str:
        return INSIDE

    def command(self, argv: list[str], workdir: Path) -> list[str]:
        args = [
            self.bwrap,
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/run",
        ]
        for hidden in self.hide:
            args += ["--tmpfs", hidden]
        args += _bind_back(os.path.dirname(os.path.dirname(self.python)), self.hide)
        args += ["--bind", str(workdir), INSIDE, "--chdir", "/"]
        if os.geteuid() == 0:
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        return [*args, "--", *argv]

    def network_isolated(self) -> bool:
        return True

    def stdlib_unreadable(self) -> bool:
        return False  # the interpreter's directories are bound back readable

    def reaps_uid(self) -> bool:
        return False  # the worker's pid namespace takes everything with it

    def describe(self) -> str:
        mode = f"a warm pool of {self._pool.size}" if self.warm else "a fresh sandbox per call"
        user = (
            "user: a private uid without capabilities (RLIMIT_NPROC holds)"
            if self.private_uid
            else "user: this user (RLIMIT_NPROC counts all its processes)"
        )
        landlock = "landlock=false" if landlock_abi() else "the kernel lacks it"
        parts = [
            f"bwrap: {_version(self.bwrap)}, {mode}, one forked child per call",
            "network: none (own namespace)",
            "own pid, ipc and uts namespaces",
            f"system: read-only, private /tmp and /run, hidden: {' '.join(self.hide) or 'nothing'}"
            ", writable: its own directory only",
            self.files_note() if self.landlock else f"files: no Landlock ({landlock})",
            user,
            "limits: address space, CPU, file size, processes, wall-clock timeout",
            "not prevented: system calls other than exec (bubblewrap's namespaces bound them)",
            f"guard {'on' if self.guard else 'off'}",
        ]
        return "; ".join(parts)


MINIMAL_ISOLATION: tuple[str, ...] = (
    "--unshare-net",
    "--unshare-pid",
    "--die-with-parent",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
)
"""The least bubblewrap needs to isolate a process: what the availability probe starts."""


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox here, or None when it can (checked once per process)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    probe = [
        bwrap,
        *MINIMAL_ISOLATION,
        "--",
        real_python(),
        "-I",
        "-S",
        "-c",
        "pass",
    ]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot start: {exc}"
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        return f"bubblewrap cannot create its namespaces here: {said}"
    return None


def _bind_back(prefix: str, hidden: tuple[str, ...]) -> list[str]:
    """Arguments that bind ``prefix`` back read-only if a hidden directory covers it."""
    for top in hidden:
        if prefix == top or prefix.startswith(top.rstrip("/") + "/"):
            args: list[str] = []
            parts = Path(prefix).relative_to(top).parts
            for depth in range(1, len(parts)):  # the directories on the way, searchable
                args += ["--perms", "0755", "--dir", str(Path(top, *parts[:depth]))]
            return [*args, "--ro-bind", prefix, prefix]
    return []


@functools.cache
def _version(bwrap: str) -> str:
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "bubblewrap"
    return done.stdout.decode(errors="replace").strip() or "bubblewrap"
