"""What a call's forked child gives up before the code runs: resources, its uid, capabilities.

Loaded inside the sandbox under the name ``selfeng_sandbox_privileges`` (see
``selfeng.infra.sandbox.launch``): stdlib only, Python 3.9 or newer.

The child lowers ``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and ``RLIMIT_NPROC`` to the
call's and allows no core files (soft = hard: the code cannot raise them), then drops to the
worker's private uid when there is one, keeping at most ``CAP_DAC_READ_SEARCH`` (to read an
interpreter under a closed ``/root`` where no mount namespace hides it), and sets
``no_new_privs``.
"""

from __future__ import annotations

import os
import resource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_PR_SET_KEEPCAPS = 8
_PR_SET_NO_NEW_PRIVS = 38
_CAP_DAC_READ_SEARCH = 2
_CAPABILITY_VERSION_3 = 0x20080522
_MB = 1 << 20


def apply_limits(limits: dict[str, Any], config: dict[str, Any]) -> None:
    """Lower this process's resource limits to the call's (soft = hard: no raising them)."""
    memory = int(limits.get("memory_mb", 256)) * _MB
    cpu = max(1, int(-(-float(limits.get("cpu_s", 10.0)) // 1)))
    size = int(limits.get("file_size_mb", 16)) * _MB
    _set_limit(resource.RLIMIT_AS, memory, memory)
    _set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit
    _set_limit(resource.RLIMIT_FSIZE, size, size)
    _set_limit(resource.RLIMIT_CORE, 0, 0)
    if config.get("nproc", True):
        processes = int(limits.get("processes", 32))
        _set_limit(resource.RLIMIT_NPROC, processes, processes)


def _set_limit(which: int, soft: int, hard: int) -> None:
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def drop_privileges(config: dict[str, Any], libc: Any) -> None:
    """Become the worker's private uid (if it has one) and set ``no_new_privs``."""
    uid = config.get("uid")
    if uid is not None:
        gid = config.get("gid", uid)
        keep = bool(config.get("read_cap"))
        if keep and libc is None:
            raise OSError("keeping CAP_DAC_READ_SEARCH needs ctypes")
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        if keep:
            libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
        os.setresuid(uid, uid, uid)
        if keep:
            _keep_only_read_cap(libc)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError(f"still uid {os.getuid()} after setresuid({uid})")
    if libc is not None:
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def prepare(config: dict[str, Any], libc: Any) -> None:
    """Build, once in the worker, the ``capset`` arguments every call's child needs (with
    ``read_cap``), so calls need not."""
    global _CAPSET
    if config.get("read_cap") and libc is not None:
        import ctypes

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class Data(ctypes.Structure):
            _fields_ = [
                ("effective", ctypes.c_uint32),
                ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32),
            ]

        header = Header(_CAPABILITY_VERSION_3, 0)
        data = (Data * 2)()
        data[0].effective = data[0].permitted = 1 << _CAP_DAC_READ_SEARCH
        _CAPSET = (ctypes.byref(header), data, header)


_CAPSET: tuple[Any, ...] | None = None


def _keep_only_read_cap(libc: Any) -> None:
    """Keep CAP_DAC_READ_SEARCH only: reading the interpreter's files where they are 0700."""
    if _CAPSET is None:
        raise OSError("prepare() did not set up capset")
    if libc.capset(_CAPSET[0], _CAPSET[1]) != 0:
        raise OSError(f"capset failed (errno {libc and __import__('ctypes').get_errno()})")
    libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
