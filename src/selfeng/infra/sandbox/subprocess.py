"""``subprocess://``: tools run in warm local interpreters, behind the operating system's walls.

Each worker is the real interpreter binary (``python -I -S``, not a shell shim) in a private
temporary directory. Each call is a forked child with ``RLIMIT_AS``, ``RLIMIT_CPU``,
``RLIMIT_FSIZE`` and ``RLIMIT_NPROC``, and the wall-clock timeout is enforced by the worker
(and, should it stop answering, by the pool).

Two walls are claimed through options, and a machine that cannot give one refuses to open
the sandbox (``SandboxUnavailable``, naming the option that accepts less):

- ``isolate_network=true``: every worker starts under ``unshare --net --ipc`` (as root, or
  through an unprivileged user namespace): no network at all.
- ``confine_files=true``: every call enters a Landlock ruleset (Linux 5.13 or newer): it
  reads only the interpreter's standard library (with the shared libraries, time zones and
  MIME types that uses) and its own directory, writes only its own directory, and executes
  no file; with Landlock ABI 4 it opens no TCP socket, with ABI 6 its signals and abstract
  sockets stay inside the call. The kernel checks every open and exec, however it is made
  (``os.open`` with ``dir_fd``, ``_posixsubprocess.fork_exec``), for root and for any other
  user: on a laptop, a tool keeps to its directory.

As root, every worker gets a private uid (random, far above real users): its calls drop to
it without capabilities, so ``RLIMIT_NPROC`` holds, and the tool cannot write root's files,
signal or trace its worker, or reach root-only sockets. When the interpreter lives under a
directory others cannot enter (pyenv under ``/root``), the worker also gets its own mount
namespace (``unshare --mount``) in which ``/root`` is a tmpfs holding only the interpreter's
directories, bound back read-only: the uid can import, and root's files are simply not
there. Where no mount namespace can be made, calls keep ``CAP_DAC_READ_SEARCH`` instead,
and ``describe`` says so.

Options: ``subprocess://?workers=2&guard=true&private_uid=true&isolate_network=true&
confine_files=true`` (``workers=0``: a fresh worker per call).
"""

from __future__ import annotations

import contextlib
import ctypes
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

from selfeng.core.sandbox import SandboxUnavailable
from selfeng.infra.sandbox import landlock as sandbox_landlock
from selfeng.infra.sandbox import mounts as sandbox_mounts
from selfeng.infra.sandbox.channel import Channel, ProcessChannel
from selfeng.infra.sandbox.launch import launch_compiled
from selfeng.infra.sandbox.pool import STARTUP_TIMEOUT_S, PooledSandbox, parse_options

_OPTIONS: Final = {
    "workers": int,
    "guard": bool,
    "private_uid": bool,
    "isolate_network": bool,
    "confine_files": bool,
    "startup_timeout": float,
}
_UID_RANGE: Final = (1_500_000_000, 1_600_000_000)
"""Private uids come from here: far above any real user, below the overflow ids."""


class SubprocessSandbox(PooledSandbox):
    """Warm local workers with resource limits, a network namespace, Landlock, a private uid."""

    name = "subprocess"

    def __init__(
        self,
        *,
        workers: int = 2,
        guard: bool = True,
        private_uid: bool | None = None,
        isolate_network: bool = True,
        confine_files: bool = True,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        root = os.geteuid() == 0
        if private_uid and not root:
            raise ValueError("private_uid needs root")
        self.python = real_python()
        """The interpreter binary every worker runs."""
        self.private_uid = root if private_uid is None else private_uid
        """Whether calls drop to a private uid per worker."""
        self.landlock = landlock_abi() if confine_files else 0
        """The Landlock ABI that confines every call's files (0: calls are not confined)."""
        if confine_files and not self.landlock:
            raise SandboxUnavailable(no_landlock(self.name))
        self.network_prefix, self.network_note = (
            network_namespace()
            if isolate_network
            else ([], "network: NOT isolated (isolate_network=false)")
        )
        if isolate_network and not self.network_prefix:
            raise SandboxUnavailable(no_network_namespace(self.network_note))
        self.closed_dirs = closed_ancestors() if self.private_uid else []
        """Directories a private uid cannot enter on the way to the interpreter (``/root``)."""
        self.prefix = self.network_prefix
        """The command prefix of every worker (``unshare`` with the namespaces it needs)."""
        self.read_cap = False
        """Whether calls keep CAP_DAC_READ_SEARCH (no mount namespace to hide ``/root`` in)."""
        if self.closed_dirs and self.stdlib_unreadable():
            mount = mount_namespace(tuple(self.network_prefix))
            self.prefix, self.read_cap = (mount, False) if mount else (self.network_prefix, True)
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
            read_cap=uid is not None and self.read_cap,
            reveal_stdlib=uid is not None and self.hides_root(),
            landlock=self.landlock > 0,
            landlock_net=self.network_isolated(),
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
        return [*self.prefix, *argv]

    def inside(self, workdir: Path) -> str:
        """The working directory's path as the worker sees it."""
        return str(workdir)

    def network_isolated(self) -> bool:
        """Whether workers run without a network."""
        return bool(self.network_prefix)

    def stdlib_unreadable(self) -> bool:
        """Whether a private uid cannot read the standard library where it is (under /root)."""
        return not all(_world_readable(p) for p in _stdlib_dirs())

    def hides_root(self) -> bool:
        """Whether workers hide the closed directories in their own mount namespace."""
        return "--mount" in self.prefix

    def reaps_uid(self) -> bool:
        """Whether closing a worker must kill what its uid left (no pid namespace ends it)."""
        return True

    def describe(self) -> str:
        """What calls may and may not do here, as ``"; "``-separated parts (the first names it)."""
        mode = f"a warm pool of {self._pool.size}" if self.warm else "a fresh worker per call"
        parts = [
            f"subprocess: {self.python} -I -S, {mode}, one forked child per call",
            self.network_note,
            self.files_note(),
            *self.user_notes(),
            "limits: address space, CPU, file size, processes, wall-clock timeout",
            "not prevented: reading file metadata (stat) where its uid may look, connecting to "
            "world-writable UNIX sockets (as under /run), system calls other than exec",
            "guard on (refuses processes, sockets, ctypes, writes outside its dir)"
            if self.guard
            else "guard off",
        ]
        return "; ".join(parts)

    def files_note(self) -> str:
        """What Landlock stops, for ``describe``."""
        if not self.landlock:
            return "files: NOT confined (confine_files=false): reads and writes what its user can"
        note = (
            f"files (Landlock ABI {self.landlock}): reads only the interpreter's stdlib (with the "
            "shared libraries, time zones and MIME types it uses) and its own directory, writes "
            f"only its own directory (not /tmp, /dev/shm, /var/tmp), {exec_note()}"
        )
        if self.landlock >= 4 and self.network_isolated():
            note += ", no TCP"
        if self.landlock >= 6:
            note += ", signals and abstract UNIX sockets scoped to the call"
        return note

    def user_notes(self) -> list[str]:
        """Who calls run as, and whether root-only files are out of reach, for ``describe``."""
        if not self.private_uid:
            if os.geteuid() == 0:
                return ["user: root, with its capabilities (private_uid=false)"]
            return ["user: this user (RLIMIT_NPROC counts all its processes)"]
        notes = [
            "user: a private uid without capabilities (cannot write root's files or signal the "
            "worker, RLIMIT_NPROC holds)"
        ]
        closed = ", ".join(self.closed_dirs)
        if self.hides_root():
            notes.append(
                f"root-only files: hidden (own mount namespace: {closed} is a tmpfs holding only "
                "the interpreter's stdlib, bound back read-only)"
            )
        elif self.read_cap:
            guard = "only Landlock stops reading them" if self.landlock else "READABLE"
            notes.append(
                f"root-only files: {guard} (no mount namespace here, so calls keep "
                f"CAP_DAC_READ_SEARCH to read the interpreter under {closed})"
            )
        else:
            notes.append("root-only files: unreadable (no capability kept)")
        return notes


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
        problem = _starts(tuple(prefix))
        if not problem:
            return prefix, "network: none (own namespace: unshare " + " ".join(prefix[1:-1]) + ")"
    return [], f"network: NOT isolated (unshare failed: {problem})"


def mount_namespace(prefix: tuple[str, ...]) -> list[str]:
    """``prefix`` (an ``unshare`` one, or none) with a mount namespace added; [] if none works."""
    unshare = prefix[0] if prefix else shutil.which("unshare")
    if unshare is None:
        return []
    candidate = [unshare, *prefix[1:-1], "--mount", "--"]
    return [] if _starts(tuple(candidate)) else candidate


@functools.cache
def _starts(prefix: tuple[str, ...]) -> str:
    """Why the interpreter cannot start under ``prefix``; "" when it can (checked once)."""
    try:
        done = subprocess.run(
            [*prefix, real_python(), "-I", "-S", "-c", "pass"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return ""
    return done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"


@functools.cache
def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers; 0 without Landlock."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    return sandbox_landlock.landlock_abi(libc)


def exec_note() -> str:
    """What a confined call can execute, for ``describe``."""
    if sandbox_landlock.no_exec_filter(os.uname().machine) is None:
        return "executes no file (a program written to a memfd can run, inside the same walls)"
    return "executes nothing (seccomp refuses execve and execveat, a memfd's program too)"


def no_landlock(scheme: str) -> str:
    """The one line that says the kernel cannot confine files, and what accepts less."""
    return (
        f"{scheme}:// cannot confine files: this kernel has no Landlock (Linux 5.13 or newer, "
        f"with landlock among its LSMs); {scheme}://?confine_files=false runs tools that can "
        "read and write whatever their user can"
    )


def no_network_namespace(note: str) -> str:
    """The one line that says workers cannot get their own network, and what accepts less."""
    why = note.removeprefix("network: NOT isolated ").strip("()")
    return (
        f"subprocess:// cannot isolate the network: {why}; "
        "subprocess://?isolate_network=false runs tools with the host's network"
    )


def default_problem() -> str | None:
    """Why ``subprocess://`` with its defaults cannot open here, or None."""
    if not landlock_abi():
        return no_landlock("subprocess")
    prefix, note = network_namespace()
    return None if prefix else no_network_namespace(note)


def closed_ancestors() -> list[str]:
    """The highest directories others cannot enter above the standard library (``/root``)."""
    found = {sandbox_mounts.first_closed(p) for p in _stdlib_dirs() if os.path.exists(p)}
    return sorted(d for d in found if d is not None)


def private_uid() -> int:
    """A fresh uid no real user has, for one worker's calls."""
    return _UID_RANGE[0] + secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0])


WORKDIR_PREFIX: Final = "selfeng-sandbox-"


def make_workdir(uid: int | None) -> Path:
    """``<tmp>/selfeng-sandbox-<pid>-*/work``: the parent only root may change, the child the
    uid's. The first one of a process also removes those of processes that died without
    cleaning up (killed with -9)."""
    sweep_dead_workdirs()
    base = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    base.chmod(0o711)  # the private uid may pass through, not list or change it
    work = base / "work"
    work.mkdir(mode=0o700)
    if uid is not None:
        os.chown(work, uid, uid)
    return work


@functools.cache
def sweep_dead_workdirs() -> list[Path]:
    """Remove the worker directories of this user's processes that are gone; return them."""
    removed = []
    for base in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = base.name.removeprefix(WORKDIR_PREFIX).split("-", 1)[0]
        try:
            if not pid.isdigit() or base.lstat().st_uid != os.geteuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(base, ignore_errors=True)
        removed.append(base)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    return [stdlib, os.path.join(stdlib, "lib-dynload")]


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
