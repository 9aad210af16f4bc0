"""One call inside a sandbox: what the forked child of the worker does, then exits.

Loaded by the sandbox worker (``selfeng.infra.sandbox.worker``) inside the sandbox, from
source, under the module name ``selfeng_sandbox_call``: stdlib only, Python 3.9 or newer.

The child applies the call's limits (``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``,
``RLIMIT_NPROC``, no core files), drops to the worker's private uid when there is one (and
kills whatever earlier calls on that uid left behind), sets ``no_new_privs``, enters the
worker's Landlock ruleset when it has one (``confine``: from then on this process and all it
starts read only what the ruleset allows, write only the working directory and execute
no file), empties its working directory, captures ``sys.stdout`` and ``sys.stderr`` into a
bounded buffer, installs the guard, then defines the code and calls the function (or runs
the tests). It reports through a pipe as JSON lines, the last one marked ``"final"``.

The guard is an audit hook that refuses starting processes, sockets other than AF_UNIX
pairs, name lookups, ctypes, and writes outside the working directory, with a clear
"forbidden" error. It is a courtesy, not the wall: hostile code can get around audit hooks
(``os.open`` with ``dir_fd``, ``_posixsubprocess.fork_exec``), and the operating system's
limits (uid, namespaces, Landlock, rlimits) are what actually stop it.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import resource
import sys
import time

# Only modules that cost nothing to import: a cold worker's start is mostly imports
# (``json`` brings ``re`` and ``enum``, ``signal`` brings ``enum``: 15 ms together).
signals: Any = __import__("_signal")
"""The C half of ``signal`` (its constants and ``signal()``), without ``enum``."""

try:
    _json: Any = __import__("_json")
except ImportError:  # pragma: no cover - a Python built without the accelerator
    _json = None

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Emit = Callable[[str], None]

MAX_RESULT_BYTES = 8 << 20
"""The largest JSON result a call may return."""

MAX_OUTPUT_CHARS = 64 << 10
"""The printed output kept per call (the rest is counted, not kept)."""

_PR_SET_KEEPCAPS = 8
_PR_SET_NO_NEW_PRIVS = 38
_CAP_DAC_READ_SEARCH = 2
_CAPABILITY_VERSION_3 = 0x20080522
_SYS_LANDLOCK_RESTRICT_SELF = 446
_MB = 1 << 20
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_NET_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL, errno.ECONNREFUSED}
)
_SOCKET_CALLS = frozenset(
    ["connect", "connect_ex", "bind", "create_connection", "create_server", "urlopen"]
)
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


class suppress:  # contextlib.suppress, without importing contextlib
    """Ignore the given exceptions in a ``with`` block."""

    def __init__(self, *kinds: type[BaseException]) -> None:
        self.kinds = kinds

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, self.kinds)


def dumps(value: Any, *, allow_nan: bool = True) -> str:
    """``json.dumps(value)``, compact and ASCII (through ``_json`` when there is one)."""
    if _json is None:
        import json

        return json.dumps(value, allow_nan=allow_nan)
    encoder = _json.make_encoder(
        {},
        _not_serializable,
        _json.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        allow_nan,
    )
    return "".join(encoder(value, 0))


def loads(text: str | bytes) -> Any:
    """``json.loads(text)`` (through ``_json`` when there is one); ValueError if it is not."""
    if isinstance(text, bytes):
        text = text.decode()
    text = text.strip()
    if _json is None:
        import json

        return json.loads(text)
    try:
        value, end = _SCANNER(text, 0)
    except StopIteration:
        raise ValueError(f"not JSON: {text[:60]!r}") from None
    if end != len(text):
        raise ValueError(f"extra data after the JSON value at {end}")
    return value


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)
    memo: dict[str, str] = {}


_SCANNER: Any = _json.make_scanner(_Context()) if _json is not None else None


class Forbidden(PermissionError):
    """An operation the sandbox's guard refuses."""


def child_main(
    request: dict[str, Any], config: dict[str, Any], libc: Any, w: int, ruleset: int | None = None
) -> None:
    """Set up this forked child, run the request, report on ``w``, exit. Never returns.

    ``ruleset`` is the worker's Landlock ruleset descriptor, if it confines calls.
    """
    me = os.getpid()

    def emit(text: str) -> None:
        if os.getpid() == me:  # a process the tool forked falls through here: it stays quiet
            write_all(w, (text + "\n").encode())

    limits = request.get("limits") or {}
    try:
        os.setsid()
        signals.signal(signals.SIGXFSZ, signals.SIG_IGN)  # a file too large raises EFBIG instead
        apply_limits(limits, config)
        drop_privileges(config, libc)
        if config.get("uid") is not None:
            with suppress(OSError):
                os.kill(-1, signals.SIGKILL)  # leftovers of earlier calls on this private uid
        confine(ruleset, libc)
        _empty_workdir(config.get("workdir") or os.getcwd())
        capture = _Capture(int(config.get("max_output", MAX_OUTPUT_CHARS)))
        sys.stdout = sys.stderr = capture
        sys.stdin = io.StringIO()
        if config.get("guard", True):
            sys.addaudithook(_Guard(os.getcwd()))
    except BaseException as exc:
        problem = f"the sandbox could not set up the call: {type(exc).__name__}: {exc}"
        emit(dumps({"final": 1, "ok": False, "error_kind": "sandbox", "error": problem}))
        os._exit(0)
    try:
        if request.get("op") == "tests":
            _run_tests(request, capture, emit, limits, config)
        else:
            emit(_run(request, capture, limits, config))
    except BaseException as exc:  # a failure of our own code, or a tool's sabotage of it
        with suppress(BaseException):
            kind, message = classify(exc, limits, config)
            emit(dumps({"final": 1, "ok": False, "error_kind": kind, "error": message}))
    if config.get("uid") is not None:
        with suppress(BaseException):
            os.kill(-1, signals.SIGKILL)  # whatever the call started, however it hid
    os._exit(0)


# -- setting up -----------------------------------------------------------------------------


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


def prepare(config: dict[str, Any], libc: Any) -> None:
    """Build, once in the worker, what every call's child needs (so calls need not)."""
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
    if config.get("landlock") and libc is not None:
        _prepare_no_exec()


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


_CAPSET: tuple[Any, ...] | None = None
_NO_EXEC: tuple[Any, ...] | None = None


def _keep_only_read_cap(libc: Any) -> None:
    """Keep CAP_DAC_READ_SEARCH only: reading the interpreter's files where they are 0700."""
    if _CAPSET is None:
        raise OSError("prepare() did not set up capset")
    if libc.capset(_CAPSET[0], _CAPSET[1]) != 0:
        raise OSError(f"capset failed (errno {libc and __import__('ctypes').get_errno()})")
    libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)


def _empty_workdir(workdir: str) -> None:
    os.chdir(workdir)
    with suppress(OSError):
        os.chmod(workdir, 0o700)
    with os.scandir(workdir) as entries:
        for entry in entries:
            _remove(entry.path)


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            with os.scandir(path) as entries:
                for entry in entries:
                    _remove(entry.path)
            os.rmdir(path)
        else:
            os.unlink(path)


class _Capture(io.TextIOBase):
    """A bounded stand-in for stdout and stderr."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0
        self.limit = limit

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self.limit - self.size
        kept = s[:room] if room > 0 else ""
        if kept:
            self.parts.append(kept)
            self.size += len(kept)
        self.dropped += len(s) - len(kept)
        return len(s)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters not kept]"
        return text


class _Guard:
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


# -- running a function ---------------------------------------------------------------------


def _run(
    request: dict[str, Any], capture: _Capture, limits: dict[str, Any], config: dict[str, Any]
) -> str:
    """Define the code, call the function, and return the final message as JSON text."""

    def failure(kind: str, message: str) -> str:
        return dumps(
            {
                "final": 1,
                "ok": False,
                "error_kind": kind,
                "error": message,
                "output": capture.text(),
            }
        )

    namespace = _namespace()
    problem = _exec_into(str(request.get("code", "")), "<tool>", namespace, limits, config)
    if problem is not None:
        return failure(*problem)
    name = request.get("function")
    function = namespace.get(name) if isinstance(name, str) else None
    if function is None or not callable(function):
        return failure("exception", f"the code defines no function {name!r}")
    arguments = request.get("arguments")
    if not isinstance(arguments, dict):
        return failure("bad_arguments", "the arguments are not a JSON object")
    trouble = check_arguments(function, arguments, namespace)
    if trouble is not None:
        return failure("bad_arguments", trouble)
    try:
        value = _settle(function(**arguments))
    except TypeError as exc:
        tb = exc.__traceback__
        if tb is not None and tb.tb_next is None:  # raised by the call itself: the binding
            return failure("bad_arguments", str(exc))
        return failure(*classify(exc, limits, config))
    except BaseException as exc:
        return failure(*classify(exc, limits, config))
    try:
        value_json = dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return failure("exception", not_json(value))
    except MemoryError:
        return failure("memory", "ran out of memory encoding the result")
    if len(value_json) > MAX_RESULT_BYTES:
        size = f"returned {len(value_json)} bytes of JSON; the limit is {MAX_RESULT_BYTES}"
        return failure("resource_limit", size)
    output = dumps(capture.text())
    return f'{{"final": 1, "ok": true, "value": {value_json}, "output": {output}}}'


def _namespace() -> dict[str, Any]:
    return {"__name__": "tool", "__builtins__": builtins}


def _exec_into(
    source: str,
    filename: str,
    namespace: dict[str, Any],
    limits: dict[str, Any],
    config: dict[str, Any],
) -> tuple[str, str] | None:
    """Define ``source`` in ``namespace``; the error kind and message if that fails."""
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        return "exception", f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, MemoryError, RecursionError) as exc:
        return "exception", f"{type(exc).__name__}: {exc}"
    try:
        exec(code, namespace)
    except BaseException as exc:
        kind, message = classify(exc, limits, config)
        return kind, "defining it failed: " + message
    return None


def _settle(value: Any) -> Any:
    """Run a coroutine a tool returned (an ``async def`` tool) to its value."""
    if type(value).__name__ == "coroutine" and hasattr(value, "send"):
        import asyncio

        return asyncio.run(value)
    return value


def check_arguments(
    function: Any, arguments: dict[str, Any], namespace: dict[str, Any]
) -> str | None:
    """Why the JSON arguments do not fit the function's annotations, or None.

    Lists passed for ``tuple`` parameters become tuples in ``arguments``.
    """
    annotations = getattr(function, "__annotations__", None)
    if not isinstance(annotations, dict):
        return None
    for name, value in list(arguments.items()):
        annotation = annotations.get(name)
        if annotation is None:
            continue
        if isinstance(annotation, str):  # from __future__ import annotations
            try:
                annotation = eval(annotation, namespace)
            except Exception:
                continue
        problem = type_problem(value, annotation)
        if problem is not None:
            return f"argument {name!r} {problem}"
        tuple_type = annotation is tuple or getattr(annotation, "__origin__", None) is tuple
        if tuple_type and isinstance(value, list):
            arguments[name] = tuple(value)
    return None


def type_problem(value: Any, annotation: Any, depth: int = 0) -> str | None:
    """Why a JSON value is not of an annotated type, or None (unknown types pass)."""
    if depth > 20:
        return None
    typing = sys.modules.get("typing")
    origin = getattr(annotation, "__origin__", None)
    args: tuple[Any, ...] = tuple(getattr(annotation, "__args__", ()) or ())
    if typing is not None and annotation is typing.Any:
        return None
    if type(annotation).__name__ == "UnionType" or (typing is not None and origin is typing.Union):
        if any(type_problem(value, option, depth + 1) is None for option in args):
            return None
        return f"must be {_type_name(annotation)}, not {_value_name(value)}"
    if typing is not None and origin is typing.Literal:
        if value in args:
            return None
        return f"must be one of {', '.join(repr(a) for a in args)}, not {value!r}"
    if annotation is None or annotation is type(None):
        return None if value is None else _must("null", value)
    simple = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if annotation in simple:
        if annotation is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif annotation is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, annotation)
        return None if ok else _must(simple[annotation], value)
    container = origin if origin is not None else annotation
    if container in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            return _must("a list", value)
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                return f"must be a list of {len(args)} items, not {len(value)}"
            pairs = [(args[i], value[i]) for i in range(len(args))]
        else:
            pairs = [(args[0], item) for item in value] if args else []
        for item_type, item in pairs:
            problem = type_problem(item, item_type, depth + 1)
            if problem is not None:
                return "item " + problem
        return None
    if container is dict:
        if not isinstance(value, dict):
            return _must("an object", value)
        for item in value.values() if len(args) == 2 else ():
            problem = type_problem(item, args[1], depth + 1)
            if problem is not None:
                return "value " + problem
    return None


def _must(what: str, value: Any) -> str:
    return f"must be {what}, not {_value_name(value)}"


def _value_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object", type(None): "null"})
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{names.get(type(value), type(value).__name__)} {text}"


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def not_json(value: Any) -> str:
    """``returned a set, not JSON``: what about a value JSON cannot carry."""
    top = _a(type(value).__name__)
    try:
        inner = _first_non_json(value, 0)
    except RecursionError:
        inner = "a structure nested too deep"
    if inner is None or inner.startswith(top):
        return f"returned {inner or top}, not JSON"
    return f"returned {top} containing {inner}, not JSON"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _first_non_json(value: Any, depth: int) -> str | None:
    if depth > 200:
        return "a structure nested too deep (or circular)"
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if value == value and abs(value) != float("inf") else f"a float {value!r}"
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not (key is None or isinstance(key, (str, int, float, bool))):
                return _a(type(key).__name__) + " key"
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    return _a(type(value).__name__)


# -- what went wrong ------------------------------------------------------------------------


def classify(exc: BaseException, limits: dict[str, Any], config: dict[str, Any]) -> tuple[str, str]:
    """The error kind and a one-line message for an exception the code raised."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and all(current is not c for c in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    described = describe(exc)
    processes = limits.get("processes", 32)
    for item in chain:
        if isinstance(item, Forbidden):
            return "forbidden", str(item)
        if isinstance(item, MemoryError):
            return "memory", f"ran out of memory (limit {limits.get('memory_mb', 256)} MB)"
        if isinstance(item, RecursionError):
            break
        if isinstance(item, OSError):
            code = item.errno
            if code == errno.EFBIG:
                size = limits.get("file_size_mb", 16)
                return "resource_limit", f"wrote a file larger than the limit ({size} MB)"
            if code == errno.EAGAIN and isinstance(item, BlockingIOError):
                return "resource_limit", f"hit the process limit ({processes}): {described}"
            no_network = not config.get("network", False)
            if no_network and code == errno.EACCES and _refused_socket(item):
                return "forbidden", "no network in the sandbox: " + described
            if code in (errno.EROFS, errno.EACCES, errno.EPERM):
                return "forbidden", "forbidden in the sandbox: " + described
            if no_network and (code in _NET_ERRNOS or type(item).__name__ == "gaierror"):
                return "forbidden", "no network in the sandbox: " + described
        if isinstance(item, RuntimeError) and "can't start new thread" in str(item):
            return "resource_limit", f"hit the process and thread limit ({processes}): {described}"
    return "exception", described


def _refused_socket(exc: OSError) -> bool:
    """Whether an EACCES came from a socket call (Landlock refusing TCP), not from a path."""
    if exc.filename is not None:
        return False
    tb = exc.__traceback__
    innermost = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith("socket.py"):
            return True
        innermost = tb.tb_frame.f_code
        tb = tb.tb_next
    return innermost is not None and not _SOCKET_CALLS.isdisjoint(innermost.co_names)


def describe(exc: BaseException) -> str:
    """``Type: message (line N of the code, in f)``."""
    text = str(exc)
    head = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, SystemExit):
        head = f"the code called exit({'' if exc.code is None else exc.code})"
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in ("<tool>", "<tests>"):
            place = "the code" if code.co_filename == "<tool>" else "the tests"
            where = f" (line {tb.tb_lineno} of {place}, in {code.co_name})"
        tb = tb.tb_next
    return head + where


# -- running tests --------------------------------------------------------------------------


def _run_tests(
    request: dict[str, Any],
    capture: _Capture,
    emit: Emit,
    limits: dict[str, Any],
    config: dict[str, Any],
) -> None:
    """Define the code, then the tests in the same namespace; run each ``test_*`` in order."""

    def final(error: tuple[str, str] | None = None) -> None:
        message: dict[str, Any] = {"final": 1, "output": capture.text()}
        if error is not None:
            message["error_kind"], message["error"] = error
        emit(dumps(message))

    import linecache  # so failed asserts can show their line (loaded already when warm)

    code, tests = str(request.get("code", "")), str(request.get("tests", ""))
    for filename, source in (("<tool>", code), ("<tests>", tests)):
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = _namespace()
    problem = _exec_into(code, "<tool>", namespace, limits, config)
    if problem is not None:
        final((problem[0], "the code: " + problem[1]))
        return
    before = dict(namespace)
    problem = _exec_into(tests, "<tests>", namespace, limits, config)
    if problem is not None:
        final((problem[0], "the tests: " + problem[1]))
        return
    names = [
        name
        for name, obj in namespace.items()
        if name.startswith("test_") and callable(obj) and before.get(name) is not obj
    ]
    emit(dumps({"tests": names}))
    for name in names:
        start = time.perf_counter()
        result: dict[str, Any] = {"test": name, "ok": True, "error": None}
        try:
            _settle(namespace[name]())
        except BaseException as exc:
            kind, message = classify(exc, limits, config)
            if kind == "exception":
                message = explain_assert(exc, message)
            result.update(ok=False, error=message, kind=kind)
        result["ms"] = round((time.perf_counter() - start) * 1000, 3)
        emit(dumps(result))
    final()


def explain_assert(exc: BaseException, message: str) -> str:
    """For a bare ``assert a == b`` that failed: the statement and both sides' values."""
    if not isinstance(exc, AssertionError) or str(exc):
        return message
    tb = exc.__traceback__
    frame = None
    lineno = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<tests>":
            frame, lineno = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    import linecache

    line = linecache.getline("<tests>", lineno).strip() if frame else ""
    if frame is None or not line:
        return message
    explained = f"AssertionError: {line} (line {lineno} of the tests)"
    with suppress(BaseException):
        import ast

        node = ast.parse(line).body[0]
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            compare = node.test
            if len(compare.ops) == 1:
                shown = []
                for side in (compare.left, compare.comparators[0]):
                    expression = compile(ast.Expression(side), "<assert>", "eval")
                    text = repr(eval(expression, frame.f_globals, frame.f_locals))
                    shown.append(text if len(text) <= 200 else text[:197] + "...")
                explained += f"; left: {shown[0]}, right: {shown[1]}"
    return explained


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
