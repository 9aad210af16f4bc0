"""The program that runs inside every sandbox: a warm zygote that forks one child per call.

A backend starts it with ``launch_command`` (``python -I -S -c <loader> <sources> <config>``:
the real interpreter binary, no ``site``, no environment variables, no user directory),
inside whatever isolation the backend gives. It is stdlib only and runs on Python 3.9 or
newer, because a container may carry another Python than the host.

Protocol: line-delimited JSON. The worker first writes a hello::

    {"hello": 1, "worker": "<random id>", "pid": 7, "uid": 0, "python": "3.11.7", ...}

(with an ``"error"`` when it cannot isolate calls as configured). Then one request line in,
one reply line out, until stdin closes::

    {"id": 1, "op": "run", "code": "...", "function": "f", "arguments": {...}, "limits": {...}}
    -> {"id": 1, "ok": true, "value": ..., "output": "...", "worker": "...", "calls": 1}
    -> {"id": 1, "ok": false, "error": "...", "error_kind": "timeout", "output": "", ...}
    {"id": 2, "op": "tests", "code": "...", "tests": "...", "limits": {...}}
    -> {"id": 2, "ok": true, "tests": ["test_a"], "results": [{"name": "test_a", "ok": true,
        "error": null, "ms": 0.1}], "output": "...", "error": null, ...}
    {"id": 3, "op": "ping"} -> {"id": 3, "ok": true, "worker": "...", "calls": 2, "pid": 7}

The protocol descriptors move to private numbers at start and descriptors 0, 1 and 2 then
point to ``/dev/null``; a call's child closes the private ones, so nothing a tool prints
(from Python, C or a subprocess) reaches the protocol. Python-level output is captured.

The worker never runs tool code itself: each call is a forked child (``sandbox.call``), so
globals, monkeypatched builtins, leaked threads and memory die with it. The worker enforces
the wall-clock timeout (killing the child and all it started), so a timeout costs no warm
worker; it also makes itself non-dumpable, so a tool of the same uid cannot read its
descriptors or memory through ``/proc``.

Before it preloads anything, the worker may set up two walls for its calls (config keys):
``reveal_stdlib`` (root, in its own mount namespace: ``reveal_stdlib``) hides every directory
a private uid cannot enter on the way to the interpreter (``/root``) behind a fresh tmpfs,
with the interpreter's directories bound back read-only at the same paths; ``landlock``
builds, once, the Landlock ruleset each call's child enters (``landlock_ruleset``).
"""

from __future__ import annotations

import gc
import os
import select
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from selfeng.infra.sandbox import call
else:  # inside a sandbox the loader has defined it from source under this name
    call = sys.modules.get("selfeng_sandbox_call")
    if call is None:
        from selfeng.infra.sandbox import call

PROTOCOL = 1
"""The version of the line protocol."""

CALL_MODULE = "selfeng_sandbox_call"
"""The name the loader gives ``sandbox.call`` inside a sandbox."""

LOADER = (
    "import sys\n"
    f"m = type(sys)({CALL_MODULE!r})\n"
    f"sys.modules[{CALL_MODULE!r}] = m\n"
    "exec(compile(sys.argv[1], '<sandbox_call>', 'exec'), m.__dict__)\n"
    "exec(compile(sys.argv[2], '<sandbox_worker>', 'exec'), {'__name__': '__main__'})\n"
)
"""The ``-c`` program for any Python: defines the two modules from the sources after it."""

BYTECODE_LOADER = (
    "import marshal, os, sys\n"
    "def read(n):\n"
    "    data = b''\n"
    "    while len(data) < n:\n"
    "        chunk = os.read(0, n - len(data))\n"
    "        if not chunk:\n"
    "            raise SystemExit('the worker got no code on stdin')\n"
    "        data += chunk\n"
    "    return data\n"
    "code_of_call, code_of_worker = marshal.loads(read(int(read(16))))\n"
    f"m = type(sys)({CALL_MODULE!r})\n"
    f"sys.modules[{CALL_MODULE!r}] = m\n"
    "exec(code_of_call, m.__dict__)\n"
    "exec(code_of_worker, {'__name__': '__main__'})\n"
)
"""The ``-c`` program for this very interpreter: the modules come compiled, on stdin."""

DEFAULT_PRELOAD = (
    "typing",
    "math",
    "re",
    "datetime",
    "collections",
    "functools",
    "itertools",
    "string",
    "statistics",
    "decimal",
    "fractions",
    "random",
    "textwrap",
    "traceback",
    "linecache",
    "ast",
    "json",
)
"""Modules a warm worker imports once, so that forked calls find them loaded."""

ERROR_KINDS = frozenset(
    {"bad_arguments", "exception", "timeout", "memory", "resource_limit", "sandbox", "forbidden"}
)
_PR_SET_DUMPABLE = 4
_SLACK = 1 << 20

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
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT = 1, 2, 4, 32
_MS_BIND, _MS_REC, _MS_PRIVATE, _MNT_DETACH = 4096, 16384, 1 << 18, 2


def launch_command(python: str, config: dict[str, Any]) -> list[str]:
    """The command line that starts a worker with any ``python`` (a path inside the sandbox)."""
    call_source, worker_source = _sources()
    return [python, "-I", "-S", "-c", LOADER, call_source, worker_source, call.dumps(config)]


def launch_compiled(python: str, config: dict[str, Any]) -> tuple[list[str], bytes]:
    """The command line for this interpreter's own binary, and what to write to its stdin.

    The worker's two modules go over stdin compiled (``marshal``): compiling 1,200 lines
    would cost a cold start about 12 ms. ``python`` must be the running interpreter.
    """
    return [python, "-I", "-S", "-c", BYTECODE_LOADER, call.dumps(config)], _bytecode()


def _sources() -> tuple[str, str]:
    here = os.path.dirname(os.path.abspath(__file__))
    sources = []
    for name in ("call.py", "worker.py"):
        with open(os.path.join(here, name), encoding="utf-8") as f:
            sources.append(f.read())
    return sources[0], sources[1]


_BYTECODE: list[bytes] = []


def _bytecode() -> bytes:
    if not _BYTECODE:
        import marshal

        call_source, worker_source = _sources()
        codes = (
            compile(call_source, "<sandbox_call>", "exec", dont_inherit=True),
            compile(worker_source, "<sandbox_worker>", "exec", dont_inherit=True),
        )
        blob = marshal.dumps(codes)
        _BYTECODE.append(b"%016d" % len(blob) + blob)
    return _BYTECODE[0]


class Zygote:
    """The warm worker: reads requests, forks a child per call, replies."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.token = os.urandom(6).hex()
        self.calls = 0
        self.proto_in = os.dup(0)
        self.proto_out = os.dup(1)
        self.inbuf = bytearray()
        self.pending: _Running | None = None
        self.null = os.open(os.devnull, os.O_RDWR)
        os.dup2(self.null, 0)
        os.dup2(self.null, 1)
        self.libc = _libc()
        if self.libc is not None:
            self.libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        self.problem: str | None = None
        """Why calls cannot be set up as configured (said in the hello), if they cannot."""
        self.ruleset: int | None = None
        """The Landlock ruleset every call's child enters, when calls are confined."""
        try:
            if config.get("reveal_stdlib"):
                reveal_stdlib(self.libc, str(config.get("workdir") or os.getcwd()))
            call.prepare(config, self.libc)
            if config.get("landlock"):
                self.ruleset = landlock_ruleset(config, self.libc)
        except OSError as exc:
            self.problem = f"the worker cannot set up its walls: {exc}"
        for name in config.get("preload", ()):
            with call.suppress(Exception):  # a module this Python lacks: calls will say
                __import__(name)
        gc.collect()
        gc.freeze()  # forked calls then leave the preloaded objects' pages shared

    def send(self, message: dict[str, Any]) -> None:
        """Write one line to the protocol descriptor."""
        call.write_all(self.proto_out, (call.dumps(message) + "\n").encode())

    def read_line(self) -> bytes | None:
        """The next request line, or None when the parent has gone."""
        while True:
            newline = self.inbuf.find(b"\n")
            if newline >= 0:
                line = bytes(self.inbuf[:newline])
                del self.inbuf[: newline + 1]
                return line
            data = os.read(self.proto_in, 1 << 20)
            if not data:
                return None
            self.inbuf += data

    def serve(self) -> int:
        """Say hello, then answer requests until stdin closes."""
        problem = self.self_test()
        hello: dict[str, Any] = {
            "hello": PROTOCOL,
            "worker": self.token,
            "pid": os.getpid(),
            "uid": os.getuid(),
            "drops_to": self.config.get("uid"),
            "python": ".".join(str(n) for n in sys.version_info[:3]),
            "pidfd": hasattr(os, "pidfd_open"),
            "prctl": self.libc is not None,
        }
        if problem:
            hello["error"] = problem
        self.send(hello)
        if problem:
            return 1
        os.dup2(self.null, 2)
        while True:
            line = self.read_line()
            if line is None:  # the parent closed our stdin: leave nothing behind
                if self.config.get("uid") is not None:
                    self.sweep(0)
                return 0
            try:
                request = call.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
            except ValueError as exc:
                self.send({"id": None, "ok": False, "error_kind": "sandbox", "error": str(exc)})
                continue
            reply = self.handle(request)
            reply.update(id=request.get("id"), worker=self.token, calls=self.calls)
            self.send(reply)
            self.finish()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request."""
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        if op in ("run", "tests"):
            self.calls += 1
            return self.call(request)
        return {"ok": False, "error_kind": "sandbox", "error": f"unknown op {op!r}"}

    def self_test(self) -> str | None:
        """Check, in a throwaway child set up as a call is, that it can still import, and
        that Landlock (when on) confines it."""
        if self.problem is not None:
            return self.problem
        if self.config.get("uid") is None and self.ruleset is None:
            return None
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            message = b""
            try:
                os.close(r)
                call.drop_privileges(self.config, self.libc)
                call.confine(self.ruleset, self.libc)
                for entry in sys.path:
                    if os.path.isdir(entry):
                        os.listdir(entry)
                os.listdir(self.config.get("workdir") or ".")
                if self.ruleset is not None:
                    _expect_refusal("/")
            except BaseException as exc:
                message = f"{type(exc).__name__}: {exc}".encode()
            call.write_all(w, message)
            os._exit(0)
        os.close(w)
        data = _read_all(r)
        os.close(r)
        os.waitpid(pid, 0)
        if data:
            who = f"uid {self.config.get('uid')}" if self.config.get("uid") is not None else ""
            walls = " and ".join(filter(None, [who, "Landlock" if self.ruleset else ""]))
            return f"a call cannot run with {walls}: {data.decode()}"
        return None

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Fork a child for the request and wait for its report, within the limits.

        The reply goes out as soon as the child's final report arrives; making sure the
        child has ended (and what it started with it) waits for ``finish``, off the path.
        """
        limits = request.get("limits") or {}
        timeout = float(limits.get("timeout_s", 10.0))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                os.close(r)
                os.close(self.proto_in)
                os.close(self.proto_out)
                call.child_main(request, self.config, self.libc, w, self.ruleset)
            finally:
                os._exit(70)
        os.close(w)
        running = _Running(self, pid, r)
        self.pending = running
        running.wait(time.monotonic() + timeout)
        return summarise(request, running.outcome(timeout))

    def finish(self) -> None:
        """End the last call's child for good, and everything it started."""
        running, self.pending = self.pending, None
        if running is not None:
            running.finish()
        self.reap_orphans()

    def kill(self, pid: int) -> None:
        """Kill a child and everything it started."""
        with call.suppress(OSError):
            os.kill(pid, call.signals.SIGKILL)
        self.sweep(pid)

    def sweep(self, pid: int) -> None:
        """Kill what a child left behind: every process of its private uid, or its group."""
        uid = self.config.get("uid")
        if uid is None:
            with call.suppress(OSError):
                os.killpg(pid, call.signals.SIGKILL)
            return
        reaper = os.fork()
        if reaper == 0:
            with call.suppress(BaseException):
                os.setresuid(uid, uid, uid)
                os.kill(-1, call.signals.SIGKILL)  # every process of that uid but this one
            os._exit(0)
        os.waitpid(reaper, 0)

    def reap_orphans(self) -> None:
        """Collect zombies adopted when the worker is its namespace's first process."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


class _Running:
    """A call's child while it runs: its report so far, and how it ended."""

    def __init__(self, zygote: Zygote, pid: int, r: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.r = r
        self.pidfd = _pidfd(pid)
        self.buf = bytearray()
        self.total = 0
        self.messages: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self.status: int | None = None
        self.r_open = True
        self.timed_out = self.too_big = self.swept = False
        self.poller = select.poll()
        self.poller.register(r, select.POLLIN)
        self.poller.register(zygote.proto_in, select.POLLIN)
        if self.pidfd is not None:
            self.poller.register(self.pidfd, select.POLLIN)

    def wait(self, deadline: float) -> None:
        """Until the final report, the child's exit, the deadline, or too much said."""
        step = 0.0005  # without a pidfd: poll the child's state, backing off
        while self.final is None and self.status is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                break
            wait = left if self.pidfd is not None else min(left, step)
            step = min(step * 2, 0.02)
            for fd, _ in self.poller.poll(wait * 1000):
                if fd == self.r:
                    self.read(os.read(self.r, 1 << 20))
                elif fd == self.zygote.proto_in:
                    data = os.read(self.zygote.proto_in, 1 << 20)
                    if not data:  # the parent has gone: stop everything
                        self.zygote.kill(self.pid)
                        os._exit(0)
                    self.zygote.inbuf += data
            if self.too_big:
                break
            self.status = _exited(self.pid)
        if self.timed_out or self.too_big:  # kill it and all it started
            self.kill()
        elif self.final is None and self.r_open:  # it exited: take what it left in the pipe
            self.sweep_if_held()
            self.read(_drain(self.r, call.MAX_RESULT_BYTES + _SLACK - self.total + 1))

    def read(self, data: bytes) -> None:
        """Take bytes from the pipe, and the complete messages in them."""
        if not data:
            self.poller.unregister(self.r)
            self.r_open = False
            return
        self.buf += data
        self.total += len(data)
        if self.total > call.MAX_RESULT_BYTES + _SLACK:
            self.too_big = True
            return
        end = self.buf.rfind(b"\n") + 1
        if not end:
            return
        for line in bytes(self.buf[:end]).split(b"\n"):
            try:
                message = call.loads(line) if line.strip() else None
            except ValueError:
                continue
            if isinstance(message, dict):
                if message.get("final"):
                    self.final = message
                else:
                    self.messages.append(message)
        del self.buf[:end]

    def outcome(self, timeout: float) -> dict[str, Any]:
        """What ``summarise`` needs; waits for the exit status when there is no report."""
        if self.final is None and self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        return {
            "final": self.final,
            "messages": self.messages,
            "status": self.status,
            "timed_out": self.timed_out,
            "too_big": self.too_big,
            "timeout": timeout,
        }

    def finish(self) -> None:
        """Make sure the child ended, then end what it left (if it did not end normally)."""
        if self.status is None:
            if self.pidfd is not None:
                select.select([self.pidfd], [], [], 1.0)
            else:
                for _ in range(200):
                    if _exited(self.pid) is not None:
                        break
                    time.sleep(0.005)
            self.status = _exited(self.pid)
            if self.status is None:  # it reported, then went on: that is not how calls end
                self.kill()
        if self.r_open:
            self.sweep_if_held()
        if not self.swept and (self.final is None or self.status != 0):
            self.sweep()
        os.close(self.r)
        if self.pidfd is not None:
            os.close(self.pidfd)

    def kill(self) -> None:
        self.zygote.kill(self.pid)
        self.swept = True
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]

    def sweep(self) -> None:
        self.zygote.sweep(self.pid)
        self.swept = True

    def sweep_if_held(self) -> None:
        """Sweep if something the child started still holds the pipe."""
        if not self.swept and not _hung_up(self.r):
            self.sweep()


def summarise(request: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    """The reply for a finished call, from the child's messages and how it ended."""
    final = outcome["final"]
    limits = request.get("limits") or {}
    death = _death(outcome, limits)
    if request.get("op") == "tests":
        tests: list[str] | None = None
        results: list[dict[str, Any]] = []
        for message in outcome["messages"]:
            if isinstance(message.get("tests"), list):
                tests = [str(n) for n in message["tests"]]
            elif isinstance(message.get("test"), str):
                passed = message.get("ok") is True
                error = None if passed else str(message.get("error"))
                results.append(
                    {"name": message["test"], "ok": passed, "error": error, "ms": message.get("ms")}
                )
        output = str(final.get("output", "")) if final else ""
        reply: dict[str, Any] = {
            "ok": True,
            "tests": tests,
            "results": results,
            "output": output,
            "error": None,
        }
        if final is not None and final.get("error"):
            reply.update(ok=False, error=str(final["error"]), error_kind=_kind(final))
        elif final is None or death is not None:
            kind, message = death or ("sandbox", "the run ended without a report")
            reply.update(ok=False, error=message, error_kind=kind)
        return reply
    if final is not None and not outcome["timed_out"] and not outcome["too_big"]:
        output = str(final.get("output", ""))
        if final.get("ok") is True:
            return {"ok": True, "value": final.get("value"), "output": output}
        error = str(final.get("error"))
        return {"ok": False, "error": error, "error_kind": _kind(final), "output": output}
    kind, message = death or ("exception", "the code exited without returning")
    return {"ok": False, "error": message, "error_kind": kind, "output": ""}


def _kind(message: dict[str, Any]) -> str:
    kind = message.get("error_kind")
    return kind if kind in ERROR_KINDS else "exception"


def _death(outcome: dict[str, Any], limits: dict[str, Any]) -> tuple[str, str] | None:
    """Why a child ended other than by a normal exit, if it did."""
    if outcome["timed_out"]:
        return "timeout", f"timed out after {outcome['timeout']:g} s (wall clock)"
    if outcome["too_big"]:
        return "resource_limit", f"the result is larger than {call.MAX_RESULT_BYTES} bytes"
    status = outcome["status"]
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == call.signals.SIGXCPU:
            return "timeout", f"used more than {float(limits.get('cpu_s', 10)):g} s of CPU time"
        if number == call.signals.SIGXFSZ:
            return "resource_limit", "wrote a file larger than the limit"
        if number == call.signals.SIGKILL:
            return "memory", "killed by SIGKILL (most likely out of memory)"
        import signal  # only now: it imports enum

        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return "exception", f"the interpreter crashed ({name})"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code != 0:
        return "exception", f"the code exited with status {code} without returning"
    return None


# -- Landlock -------------------------------------------------------------------------------


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


def _expect_refusal(path: str) -> None:
    """Raise unless listing ``path`` is refused: the proof that Landlock confines."""
    try:
        os.listdir(path)
    except PermissionError:
        return
    raise OSError(f"Landlock did not confine the call: it could list {path}")


# -- hiding root's files --------------------------------------------------------------------


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


def _libc() -> Any:
    """libc through ctypes (for prctl and capset), or None where ctypes is missing."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except Exception:
        return None


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


def _exited(pid: int) -> int | None:
    done, status = os.waitpid(pid, os.WNOHANG)
    return status if done else None


def _hung_up(fd: int) -> bool:
    """Whether no process holds the write end of a pipe any more."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(event & select.POLLHUP for _, event in poller.poll(0))


def _drain(fd: int, budget: int) -> bytes:
    """What is already in a pipe, without waiting."""
    out = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while budget > 0 and poller.poll(0):
        data = os.read(fd, min(budget, 1 << 20))
        if not data:
            break
        out += data
        budget -= len(data)
    return bytes(out)


def _read_all(fd: int) -> bytes:
    out = bytearray()
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            return bytes(out)
        out += data


def main(argv: list[str]) -> int:
    """Run the worker with the JSON config in the last argument."""
    config = call.loads(argv[-1]) if len(argv) > 1 else {}
    return Zygote(config).serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
