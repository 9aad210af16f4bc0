"""``subprocess://``: tools run in warm local interpreters with resource limits.

Each worker is the real interpreter binary (``python -I -S``, not a shell shim) in a private
temporary directory, started under ``unshare --net --ipc`` where the OS allows it (as root,
or with unprivileged user namespaces), so the tool has no network. Each call is a forked
child with ``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and ``RLIMIT_NPROC``, and the
wall-clock timeout is enforced by the worker (and, should it stop answering, by the pool).

As root, every worker gets a private uid (random, far above real users): its calls drop to
it, so ``RLIMIT_NPROC`` holds (root ignores it), the tool cannot write root's files, signal
or trace its worker, or reach root-only sockets. It keeps ``CAP_DAC_READ_SEARCH`` only when
the interpreter lives under a directory others cannot enter (pyenv under ``/root``): then
the tool can *read* what root can. It can also write world-writable places (``/tmp``,
``/dev/shm``): the guard refuses that, the OS does not. ``bwrap://`` closes both gaps.

Options: ``subprocess://?workers=2&guard=true&private_uid=true&isolate_network=true``
(``workers=0``: a fresh worker per call).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Final

from selfeng.infra.sandbox_pool import (
    STARTUP_TIMEOUT_S,
    Channel,
    PooledSandbox,
    ProcessChannel,
    parse_options,
)
from selfeng.infra.sandbox_worker import launch_compiled

_OPTIONS: Final = {
    "workers": int,
    "guard": bool,
    "private_uid": bool,
    "isolate_network": bool,
    "startup_timeout": float,
}
_UID_RANGE: Final = (1_500_000_000, 1_600_000_000)
"""Private uids come from here: far above any real user, below the overflow ids."""


class SubprocessSandbox(PooledSandbox):
    """Warm local workers with resource limits, a network namespace and a private uid."""

    name = "subprocess"

    def __init__(
        self,
        *,
        workers: int = 2,
        guard: bool = True,
        private_uid: bool | None = None,
        isolate_network: bool = True,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        root = os.geteuid() == 0
        if private_uid and not root:
            raise ValueError("private_uid needs root")
        self.python = real_python()
        """The interpreter binary every worker runs."""
        self.private_uid = root if private_uid is None else private_uid
        """Whether calls drop to a private uid per worker."""
        self.network_prefix, self.network_note = (
            network_namespace() if isolate_network else ([], "network: not isolated (asked)")
        )
        super().__init__(workers=workers, guard=guard, startup_timeout=startup_timeout)

    @classmethod
    def from_url(cls, url: str) -> SubprocessSandbox:
        """Open the sandbox a ``subprocess://`` URL describes."""
        return cls(**parse_options(url, "subprocess", _OPTIONS))

    def start_channel(self) -> Channel:
        uid = private_uid() if self.private_uid else None
        workdir = make_workdir(uid)
        inside = self.inside(workdir)
        config = self.worker_config(
            workdir=inside,
            uid=uid,
            gid=uid,
            read_cap=uid is not None and self.needs_read_cap(),
            nproc=True,
            network=not self.network_isolated(),
        )
        argv, code = launch_compiled(self.python, config)
        return ProcessChannel(
            self.command(argv, workdir),
            env=worker_env(inside),
            cwd=str(workdir.parent),
            stdin=code,
            cleanup=functools.partial(release_workdir, workdir, uid if self.reaps_uid() else None),
        )

    def command(self, argv: list[str], workdir: Path) -> list[str]:
        """The full command line of a worker whose working directory is ``workdir``."""
        return [*self.network_prefix, *argv]

    def inside(self, workdir: Path) -> str:
        """The working directory's path as the worker sees it."""
        return str(workdir)

    def network_isolated(self) -> bool:
        """Whether workers run without a network."""
        return bool(self.network_prefix)

    def needs_read_cap(self) -> bool:
        """Whether a private uid needs CAP_DAC_READ_SEARCH to read the standard library."""
        return not all(_world_readable(p) for p in _stdlib_dirs())

    def reaps_uid(self) -> bool:
        """Whether closing a worker must kill what its uid left (no pid namespace ends it)."""
        return True

    def describe(self) -> str:
        mode = f"a warm pool of {self._pool.size}" if self.warm else "a fresh worker per call"
        parts = [
            f"subprocess: {self.python} -I -S, {mode}, one forked child per call",
            "limits: address space, CPU, file size, processes; wall-clock timeout",
            self.network_note,
        ]
        if self.private_uid:
            reads = (
                "reads what root can (CAP_DAC_READ_SEARCH: the interpreter is under a 0700 dir)"
                if self.needs_read_cap()
                else "reads what any user can"
            )
            parts.append(
                "calls run as a private uid: cannot write root's files or signal the worker, "
                f"RLIMIT_NPROC holds; {reads}; can write world-writable dirs such as /tmp"
            )
        else:
            parts.append(
                "calls run as this user (not root: RLIMIT_NPROC counts all its processes); "
                "can write wherever it can"
            )
        parts.append("guard on (refuses processes, sockets, ctypes, writes outside its dir)")
        if not self.guard:
            parts[-1] = "guard off"
        return "; ".join(parts)


def real_python() -> str:
    """The interpreter binary itself: a venv's ``python`` symlink resolved, not a shim."""
    return os.path.realpath(sys.executable)


@functools.cache
def network_namespace() -> tuple[list[str], str]:
    """The command prefix that gives a worker no network, and a note for ``describe``."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return [], "network: NOT isolated (no unshare binary)"
    attempts = [[unshare, "--net", "--ipc", "--"]]
    if os.geteuid() != 0:
        attempts.append([unshare, "--user", "--map-root-user", "--net", "--ipc", "--"])
    problem = ""
    for prefix in attempts:
        try:
            done = subprocess.run(
                [*prefix, real_python(), "-I", "-S", "-c", "pass"],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)
            continue
        if done.returncode == 0:
            return prefix, "network: none (own network namespace: " + " ".join(prefix[1:-1]) + ")"
        problem = done.stderr.decode(errors="replace").strip()
    return [], f"network: NOT isolated (unshare failed: {problem})"


def private_uid() -> int:
    """A fresh uid no real user has, for one worker's calls."""
    return _UID_RANGE[0] + secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0])


def make_workdir(uid: int | None) -> Path:
    """``<tmp>/selfeng-sandbox-*/work``: the parent only root may change, the child the uid's."""
    base = Path(tempfile.mkdtemp(prefix="selfeng-sandbox-"))
    base.chmod(0o711)  # the private uid may pass through, not list or change it
    work = base / "work"
    work.mkdir(mode=0o700)
    if uid is not None:
        os.chown(work, uid, uid)
    return work


def release_workdir(workdir: Path, uid: int | None, graceful: bool) -> None:
    """Delete a closed worker's directory; kill what its uid left if it did not clean up."""
    if uid is not None and not graceful:
        kill_uid(uid)  # a worker that exits on its own has swept its uid already
    shutil.rmtree(workdir.parent, ignore_errors=True)


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (run as that uid, so it can touch nothing else)."""
    kill = shutil.which("kill") or "/bin/kill"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [kill, "-KILL", "-1"],  # as that uid, -1 is every process of that uid
            user=uid,
            group=uid,
            extra_groups=[],
            env={},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        )


def worker_env(workdir: str) -> dict[str, str]:
    """The whole environment of a worker: nothing of ours (no keys, no tokens) leaks in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",  # threads' malloc arenas would eat the address-space limit
    }


def _stdlib_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    stdlib = os.path.realpath(paths["stdlib"])
    return [stdlib, os.path.join(os.path.realpath(paths["platstdlib"]), "lib-dynload")]


def _world_readable(path: str) -> bool:
    """Whether any user can reach and list ``path`` (every ancestor searchable)."""
    current = Path(path)
    if not current.exists():
        return True
    try:
        if current.stat().st_mode & (stat.S_IROTH | stat.S_IXOTH) != (stat.S_IROTH | stat.S_IXOTH):
            return False
        return all(p.stat().st_mode & stat.S_IXOTH for p in current.parents)
    except OSError:
        return False
