"""Landlock and seccomp: the walls a call's child enters, built once by the worker.

Loaded inside the sandbox under the name ``selfeng_sandbox_landlock`` (see
``selfeng.infra.sandbox.launch``): stdlib only, Python 3.9 or newer; ``ctypes`` is imported
only by the worker that confines its calls.

The worker builds the ruleset (``prepare``); each call's child enters it (``confine``): from
then on that process and all it starts read only the interpreter, the shared libraries and
a few system files, write only the working directory and execute no file; then a seccomp
filter refuses ``execve`` itself (Landlock does not see a program run from a memfd).
"""

from __future__ import annotations

import errno
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LANDLOCK_READABLE = (
    "/usr/share/zoneinfo",
    "/etc/localtime",
    "/etc/mime.types",
    "/dev/urandom",
    "/dev/random",
)
"""What a confined call may read besides the interpreter's ``sys.path`` (time zones, MIME
types, randomness): what everyday use of the standard library opens."""

LANDLOCK_LIBRARIES = ("/etc/ld.so.cache", "/lib", "/lib64", "/usr/lib", "/usr/lib64")
"""Where the shared libraries of the stdlib's C extensions live (``zlib`` needs ``libz``): a
confined call may read files there by name, not list the directories."""

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_BY_ABI = ((1, (1 << 13) - 1), (2, 1 << 13), (3, _FS_TRUNCATE), (5, _FS_IOCTL_DEV))
"""The filesystem rights each Landlock ABI added: ABI 1 bits 0 to 12, then REFER, TRUNCATE,
IOCTL_DEV."""
_FS_FOR_FILES = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_TCP = (1 << 0) | (1 << 1)  # BIND_TCP, CONNECT_TCP (ABI 4)
_SCOPE_ALL = (1 << 0) | (1 << 1)  # ABSTRACT_UNIX_SOCKET, SIGNAL (ABI 6)


def prepare(config: dict[str, Any], libc: Any) -> int:
    """Build, once in the worker, what ``confine`` needs: the seccomp filter (where this
    machine's numbers are known) and the Landlock ruleset, whose descriptor it returns."""
    if libc is not None:
        _prepare_no_exec()
    return landlock_ruleset(config, libc)


def confine(ruleset: int | None, libc: Any) -> None:
    """Enter a Landlock ruleset (this process and all it starts, for good), then close it;
    then the seccomp filter that refuses every exec, where ``prepare`` built one (Landlock
    does not see a program run from a memfd: seccomp refuses the exec itself)."""
    if ruleset is None:
        return
    import ctypes  # loaded by the worker already

    restrict = ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF)
    if libc.syscall(restrict, ctypes.c_long(ruleset), ctypes.c_long(0)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"landlock_restrict_self: {os.strerror(code)}")
    os.close(ruleset)
    if _NO_EXEC is not None and libc.prctl(
        _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, _NO_EXEC[0], 0, 0
    ):
        code = ctypes.get_errno()
        raise OSError(code, f"seccomp: {os.strerror(code)}")


def no_exec_filter(machine: str) -> bytes | None:
    """A seccomp BPF program that makes ``execve`` and ``execveat`` fail with EPERM and kills
    a call that uses another architecture's system calls (to reach them under other
    numbers); None where this machine's numbers are not known here."""
    import struct

    numbers = _EXEC_SYSCALLS.get(machine)
    if numbers is None:
        return None
    arch, execve, execveat, other_abi = numbers

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    refuse = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO
    program = [
        op(load, 4),  # seccomp_data.arch
        op(jeq, arch, jt=1),
        op(ret, 0x80000000),  # SECCOMP_RET_KILL_PROCESS
        op(load, 0),  # seccomp_data.nr
        op(jeq, execve, jt=3),
        op(jeq, execveat, jt=2),
        op(jge, other_abi, jt=1) if other_abi else op(jeq, execve, jt=1),
        op(ret, 0x7FFF0000),  # SECCOMP_RET_ALLOW
        op(ret, refuse),
    ]
    return b"".join(program)


_EXEC_SYSCALLS = {
    # machine: (AUDIT_ARCH, execve, execveat, first number of another ABI on this arch)
    "x86_64": (0xC000003E, 59, 322, 0x40000000),  # x32 system calls have bit 30 set
    "aarch64": (0xC00000B7, 221, 281, 0),
}
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def _prepare_no_exec() -> None:
    global _NO_EXEC
    import ctypes

    program = no_exec_filter(os.uname().machine)
    if program is None:
        return

    class Program(ctypes.Structure):  # struct sock_fprog
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    code = ctypes.create_string_buffer(program, len(program))
    fprog = Program(len(program) // 8, ctypes.addressof(code))
    _NO_EXEC = (ctypes.byref(fprog), fprog, code)


_NO_EXEC: tuple[Any, ...] | None = None


def landlock_abi(libc: Any) -> int:
    """The Landlock ABI version this kernel offers; 0 without Landlock (or without ctypes)."""
    if libc is None:
        return 0
    try:
        return _syscall(
            libc, _SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION
        )
    except OSError:
        return 0


def landlock_fs_rights(abi: int) -> int:
    """Every filesystem right Landlock ``abi`` knows: all are handled, so none is implied."""
    rights = 0
    for version, bits in _FS_BY_ABI:
        if abi >= version:
            rights |= bits
    return rights


def landlock_ruleset(config: dict[str, Any], libc: Any) -> int:
    """The descriptor of a Landlock ruleset for calls (built once; each call enters it).

    Every filesystem right of the kernel's ABI is handled, and granted only: reading beneath
    the interpreter's ``sys.path``, ``LANDLOCK_READABLE`` and (files by name) the shared
    libraries; reading and writing ``/dev/null``; everything but executing beneath the
    working directory. Executing a file is granted nowhere (Landlock does not see a program
    run from a memfd: the call's seccomp filter refuses that exec). With ``landlock_net``
    (ABI 4), binding and connecting TCP sockets are handled and never granted; ABI 6 scopes
    signals and abstract UNIX sockets to the call.
    """
    import ctypes

    abi = landlock_abi(libc)
    if abi < 1:
        raise OSError("the kernel offers no Landlock (Linux 5.13 or newer, with landlock in lsm=)")
    fs = landlock_fs_rights(abi)
    net = _NET_TCP if abi >= 4 and config.get("landlock_net") else 0
    scoped = _SCOPE_ALL if abi >= 6 else 0
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8  # the fields this ABI knows
    ruleset = _syscall(libc, _SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0)
    try:
        read = _FS_READ_FILE | _FS_READ_DIR
        for path in [*sys.path, *LANDLOCK_READABLE]:
            _allow(libc, ruleset, path, read)
        for path in LANDLOCK_LIBRARIES:
            _allow(libc, ruleset, path, _FS_READ_FILE)
        _allow(libc, ruleset, os.devnull, (_FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE) & fs)
        workdir = str(config.get("workdir") or os.getcwd())
        if not _allow(libc, ruleset, workdir, fs & ~_FS_EXECUTE):
            raise OSError(f"no working directory {workdir}")
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def _allow(libc: Any, ruleset: int, path: str, rights: int) -> bool:
    """Grant ``rights`` beneath ``path`` (those a file can have, if it is one); False if absent."""
    import ctypes

    class PathBeneath(ctypes.Structure):
        _pack_ = 1  # struct landlock_path_beneath_attr is packed: u64 then s32, 12 bytes
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    if not path:
        return False
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        if not os.path.isdir(path):
            rights &= _FS_FOR_FILES
        rule = ctypes.byref(PathBeneath(rights, fd))
        _syscall(libc, _SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, rule, 0)
    finally:
        os.close(fd)
    return True


def _syscall(libc: Any, number: int, *args: Any) -> int:
    """``syscall(number, *args)`` with integers passed as longs; OSError when it fails."""
    import ctypes

    wide = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result: int = libc.syscall(ctypes.c_long(number), *wide)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def expect_refusal(path: str) -> None:
    """Raise unless listing ``path`` is refused: the proof that Landlock confines."""
    try:
        os.listdir(path)
    except PermissionError:
        return
    raise OSError(f"Landlock did not confine the call: it could list {path}")
