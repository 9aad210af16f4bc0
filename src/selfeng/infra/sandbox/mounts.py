"""Hiding root's files from calls: the worker's own mount namespace, where the directories
a private uid cannot enter on the way to the interpreter (``/root``) become a fresh tmpfs.

Loaded inside the sandbox under the name ``selfeng_sandbox_mounts`` (see
``selfeng.infra.sandbox.launch``): stdlib only, Python 3.9 or newer. The worker does this
once, as root, before it preloads anything (config key ``reveal_stdlib``).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT = 1, 2, 4, 32
_MS_BIND, _MS_REC, _MS_PRIVATE, _MNT_DETACH = 4096, 16384, 1 << 18, 2


def reveal_stdlib(libc: Any, workdir: str) -> list[str]:
    """Make the interpreter readable to a private uid by hiding what it could not read.

    Runs as root in the worker's own mount namespace. Each directory on the way to a
    ``sys.path`` entry that others cannot enter (``/root`` for pyenv) is covered by a fresh
    tmpfs; the entries themselves are bound back, read-only, at the same paths, through the
    directories recreated in the tmpfs (``0711``). Paths do not change, so imports work, and
    the rest of ``/root`` (keys, a selfeng home's log) is gone from the calls' view. Nothing
    propagates to the host. Returns the covered directories.
    """
    entries = _closed_entries()
    tops = sorted({top for _, top in entries})
    tops = [t for t in tops if not any(t.startswith(o + "/") for o in tops)]
    if not tops:
        return []
    if libc is None:
        raise OSError("hiding /root needs ctypes")
    for top in tops:
        if (workdir + "/").startswith(top + "/"):
            raise OSError(f"the working directory {workdir} is under {top}, closed to others")
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    stages = [os.path.join(os.path.dirname(workdir), f".reveal-{i}") for i in range(len(entries))]
    for index, (path, _) in enumerate(entries):  # the real entries, reachable after the cover
        _mount_point(stages[index], os.path.isdir(path))
        _mount(libc, path, stages[index], None, _MS_BIND | _MS_REC)
    for top in tops:
        _mount(libc, "tmpfs", top, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0711")
    for index, (path, _) in enumerate(entries):
        stage = stages[index]
        _mount_point(path, os.path.isdir(stage))
        _mount(libc, stage, path, None, _MS_BIND | _MS_REC)
        _mount(libc, None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
        libc.umount2(stage.encode(), _MNT_DETACH)
        (os.rmdir if os.path.isdir(stage) else os.unlink)(stage)
    return tops


def _closed_entries() -> list[tuple[str, str]]:
    """``sys.path`` entries others cannot reach, each with the highest directory that stops
    them (an entry inside another is left to it)."""
    found: list[tuple[str, str]] = []
    for entry in sys.path:
        path = os.path.realpath(entry) if entry else ""
        if not path or not os.path.exists(path):
            continue
        top = first_closed(path)
        if top is not None and not any((path + "/").startswith(p + "/") for p, _ in found):
            found = [(p, t) for p, t in found if not p.startswith(path + "/")]
            found.append((path, top))
    return found


def first_closed(path: str) -> str | None:
    """The highest directory above ``path`` that others may not enter, or None."""
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:depth])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def _mount_point(path: str, directory: bool) -> None:
    """Create ``path`` (and the directories above it) as a mount point, searchable by all."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        _mount_point(parent, True)
    if directory:
        if not os.path.isdir(path):
            os.mkdir(path)
            os.chmod(path, 0o711)  # whatever the umask
    elif not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _mount(
    libc: Any, source: str | None, target: str, fstype: str | None, flags: int, data: str = ""
) -> None:
    import ctypes

    def c(text: str | None) -> bytes | None:
        return text.encode() if text else None

    if libc.mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {source or ''} {target}: {os.strerror(code)}")
