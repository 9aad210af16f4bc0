"""The program that runs inside every sandbox: a warm zygote that forks one child per call.

A backend starts it with ``sandbox.launch`` (``python -I -S -c <loader> <sources> <config>``:
the real interpreter binary, no ``site``, no environment variables, no user directory),
inside whatever isolation the backend gives; the loader defines this module's siblings from
their sources first, and runs this one as ``__main__``. It is stdlib only and runs on Python
3.9 or newer, because a container may carry another Python than the host.

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
the wall-clock timeout (killing the child and all it started: ``sandbox.running``), so a
timeout costs no warm worker; it also makes itself non-dumpable, so a tool of the same uid
cannot read its descriptors or memory through ``/proc``.

Before it preloads anything, the worker may set up two walls for its calls (config keys):
``reveal_stdlib`` (root, in its own mount namespace: ``sandbox.mounts``) hides every
directory a private uid cannot enter on the way to the interpreter (``/root``) behind a fresh
tmpfs, with the interpreter's directories bound back read-only at the same paths;
``landlock`` builds, once, the Landlock ruleset each call's child enters
(``sandbox.landlock``).
"""

from __future__ import annotations

import gc
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from selfeng.infra.sandbox import call, landlock, mounts, privileges, running, wire
else:  # inside a sandbox the loader has defined them from source under these names
    wire = sys.modules.get("selfeng_sandbox_wire")
    if wire is None:
        from selfeng.infra.sandbox import wire
    privileges = sys.modules.get("selfeng_sandbox_privileges")
    if privileges is None:
        from selfeng.infra.sandbox import privileges
    landlock = sys.modules.get("selfeng_sandbox_landlock")
    if landlock is None:
        from selfeng.infra.sandbox import landlock
    call = sys.modules.get("selfeng_sandbox_call")
    if call is None:
        from selfeng.infra.sandbox import call
    mounts = sys.modules.get("selfeng_sandbox_mounts")
    if mounts is None:
        from selfeng.infra.sandbox import mounts
    running = sys.modules.get("selfeng_sandbox_running")
    if running is None:
        from selfeng.infra.sandbox import running

PROTOCOL = 1
"""The version of the line protocol."""

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

_PR_SET_DUMPABLE = 4


class Zygote:
    """The warm worker: reads requests, forks a child per call, replies."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.token = os.urandom(6).hex()
        self.calls = 0
        self.proto_in = os.dup(0)
        self.proto_out = os.dup(1)
        self.inbuf = bytearray()
        self.pending: running.Running | None = None
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
                mounts.reveal_stdlib(self.libc, str(config.get("workdir") or os.getcwd()))
            privileges.prepare(config, self.libc)
            if config.get("landlock"):
                self.ruleset = landlock.prepare(config, self.libc)
        except OSError as exc:
            self.problem = f"the worker cannot set up its walls: {exc}"
        for name in config.get("preload", ()):
            with wire.suppress(Exception):  # a module this Python lacks: calls will say
                __import__(name)
        gc.collect()
        gc.freeze()  # forked calls then leave the preloaded objects' pages shared

    def send(self, message: dict[str, Any]) -> None:
        """Write one line to the protocol descriptor."""
        wire.write_all(self.proto_out, (wire.dumps(message) + "\n").encode())

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
                request = wire.loads(line)
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
                privileges.drop_privileges(self.config, self.libc)
                landlock.confine(self.ruleset, self.libc)
                for entry in sys.path:
                    if os.path.isdir(entry):
                        os.listdir(entry)
                os.listdir(self.config.get("workdir") or ".")
                if self.ruleset is not None:
                    landlock.expect_refusal("/")
            except BaseException as exc:
                message = f"{type(exc).__name__}: {exc}".encode()
            wire.write_all(w, message)
            os._exit(0)
        os.close(w)
        data = wire.read_all(r)
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
        child = running.Running(self, pid, r)
        self.pending = child
        child.wait(time.monotonic() + timeout)
        return running.summarise(request, child.outcome(timeout))

    def finish(self) -> None:
        """End the last call's child for good, and everything it started."""
        child, self.pending = self.pending, None
        if child is not None:
            child.finish()
        self.reap_orphans()

    def kill(self, pid: int) -> None:
        """Kill a child and everything it started."""
        with wire.suppress(OSError):
            os.kill(pid, wire.signals.SIGKILL)
        self.sweep(pid)

    def sweep(self, pid: int) -> None:
        """Kill what a child left behind: every process of its private uid, or its group."""
        uid = self.config.get("uid")
        if uid is None:
            with wire.suppress(OSError):
                os.killpg(pid, wire.signals.SIGKILL)
            return
        reaper = os.fork()
        if reaper == 0:
            with wire.suppress(BaseException):
                os.setresuid(uid, uid, uid)
                os.kill(-1, wire.signals.SIGKILL)  # every process of that uid but this one
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


def _libc() -> Any:
    """libc through ctypes (for prctl and capset), or None where ctypes is missing."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except Exception:
        return None


def main(argv: list[str]) -> int:
    """Run the worker with the JSON config in the last argument."""
    config = wire.loads(argv[-1]) if len(argv) > 1 else {}
    return Zygote(config).serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
