"""The guard: an audit hook a call's child installs before it runs the tool's code.

Loaded inside the sandbox under the name ``selfeng_sandbox_guard`` (see
``selfeng.infra.sandbox.launch``): stdlib only, Python 3.9 or newer.

The guard refuses starting processes, sockets other than AF_UNIX pairs, name lookups,
ctypes, and writes outside the working directory, with a clear "forbidden" error. It is a
courtesy, not the wall: hostile code can get around audit hooks (``os.open`` with
``dir_fd``, ``_posixsubprocess.fork_exec``), and the operating system's limits (uid,
namespaces, Landlock, rlimits) are what actually stop it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PROCESS = frozenset(
    [
        "os.fork",
        "os.forkpty",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "subprocess.Popen",
    ]
)
_NATIVE = frozenset(
    [
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.call_function",
        "ctypes.cdata",
        "ctypes.cdata/buffer",
        "ctypes.string_at",
        "ctypes.wstring_at",
    ]
)
_DNS = frozenset(
    [
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    ]
)
_ADDRESS = frozenset(["socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"])
_ONE_PATH = frozenset(
    ["os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime"]
)
_TWO_PATHS = frozenset(["os.rename", "os.link", "os.symlink"])
_WATCHED = _PROCESS | _NATIVE | _DNS | _ADDRESS | _ONE_PATH | _TWO_PATHS
_WATCHED |= {"open", "socket.__new__"}


class Forbidden(PermissionError):
    """An operation the sandbox's guard refuses."""


class Guard:
    """An audit hook refusing what a tool has no business doing. Best effort, not the wall."""

    def __init__(self, workdir: str) -> None:
        self.root = os.path.realpath(workdir)

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in _WATCHED:
            return
        if event == "open":
            path, mode, flags = args
            writing = (flags is not None and flags & _WRITE_FLAGS) or (
                isinstance(mode, str) and any(c in mode for c in "wax+")
            )
            if writing:
                self.check_path(path, None, "writing")
        elif event in _ONE_PATH:
            self.check_path(args[0], args[-1], "changing")
        elif event in _TWO_PATHS:
            if event != "os.symlink":
                self.check_path(args[0], args[2], "linking or moving")
            self.check_path(args[1], args[-1], "linking or moving")
        elif event in _PROCESS:
            raise Forbidden(f"forbidden in the sandbox: starting processes ({event})")
        elif event in _NATIVE:
            raise Forbidden(f"forbidden in the sandbox: native code ({event})")
        elif event in _DNS:
            raise Forbidden(f"forbidden in the sandbox: network access ({event})")
        elif event == "socket.__new__":
            if args[1] != 1:  # AF_UNIX socket pairs (asyncio's self-pipe) stay allowed
                raise Forbidden("forbidden in the sandbox: network access (a socket)")
        elif event in _ADDRESS:
            address = args[-1]
            if not isinstance(address, (str, bytes)):
                raise Forbidden(f"forbidden in the sandbox: network access ({event})")
            if address[:1] not in ("\0", b"\0"):  # a path, not the abstract namespace
                self.check_path(address, None, "using the socket")

    def check_path(self, path: Any, dir_fd: Any, what: str) -> None:
        if isinstance(path, int):
            return  # an open descriptor: opening it was checked
        text = os.fsdecode(path)
        if dir_fd not in (None, -1) and not os.path.isabs(text):
            raise Forbidden(f"forbidden in the sandbox: {what} relative to a descriptor")
        full = os.path.realpath(os.path.join(os.getcwd(), text))
        if full == self.root or full.startswith(self.root + "/") or full == os.devnull:
            return
        raise Forbidden(f"forbidden in the sandbox: {what} {text} (outside the tool's directory)")
