"""One call inside a sandbox: what the forked child of the worker does, then exits.

Loaded by the sandbox worker (``selfeng.infra.sandbox.worker``) inside the sandbox, from
source, under the module name ``selfeng_sandbox_call`` (see ``selfeng.infra.sandbox.launch``):
stdlib only, Python 3.9 or newer.

The child applies the call's limits and drops to the worker's private uid when there is one
(``sandbox.privileges``: and kills whatever earlier calls on that uid left behind), enters the
worker's Landlock ruleset when it has one (``sandbox.landlock``: from then on this process
and all it starts read only what the ruleset allows, write only the working directory and
execute no file), empties its working directory, captures ``sys.stdout`` and ``sys.stderr``
into a bounded buffer, installs the guard (``sandbox.guard``), then defines the code and
calls the function (or runs the tests). It reports through a pipe as JSON lines, the last one
marked ``"final"``; what went wrong is classified by ``sandbox.failures``.
"""

from __future__ import annotations

import builtins
import io
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from selfeng.infra.sandbox import failures, guard, json_types, landlock, privileges, wire

    Emit = Callable[[str], None]
else:  # inside a sandbox the loader has defined them from source under these names
    wire = sys.modules.get("selfeng_sandbox_wire")
    if wire is None:
        from selfeng.infra.sandbox import wire
    guard = sys.modules.get("selfeng_sandbox_guard")
    if guard is None:
        from selfeng.infra.sandbox import guard
    failures = sys.modules.get("selfeng_sandbox_failures")
    if failures is None:
        from selfeng.infra.sandbox import failures
    json_types = sys.modules.get("selfeng_sandbox_json_types")
    if json_types is None:
        from selfeng.infra.sandbox import json_types
    privileges = sys.modules.get("selfeng_sandbox_privileges")
    if privileges is None:
        from selfeng.infra.sandbox import privileges
    landlock = sys.modules.get("selfeng_sandbox_landlock")
    if landlock is None:
        from selfeng.infra.sandbox import landlock

MAX_OUTPUT_CHARS = 64 << 10
"""The printed output kept per call (the rest is counted, not kept)."""


def child_main(
    request: dict[str, Any], config: dict[str, Any], libc: Any, w: int, ruleset: int | None = None
) -> None:
    """Set up this forked child, run the request, report on ``w``, exit. Never returns.

    ``ruleset`` is the worker's Landlock ruleset descriptor, if it confines calls.
    """
    me = os.getpid()

    def emit(text: str) -> None:
        if os.getpid() == me:  # a process the tool forked falls through here: it stays quiet
            wire.write_all(w, (text + "\n").encode())

    limits = request.get("limits") or {}
    signals = wire.signals
    try:
        os.setsid()
        signals.signal(signals.SIGXFSZ, signals.SIG_IGN)  # a file too large raises EFBIG instead
        privileges.apply_limits(limits, config)
        privileges.drop_privileges(config, libc)
        if config.get("uid") is not None:
            with wire.suppress(OSError):
                os.kill(-1, signals.SIGKILL)  # leftovers of earlier calls on this private uid
        landlock.confine(ruleset, libc)
        _empty_workdir(config.get("workdir") or os.getcwd())
        capture = _Capture(int(config.get("max_output", MAX_OUTPUT_CHARS)))
        sys.stdout = sys.stderr = capture
        sys.stdin = io.StringIO()
        if config.get("guard", True):
            sys.addaudithook(guard.Guard(os.getcwd()))
    except BaseException as exc:
        problem = f"the sandbox could not set up the call: {type(exc).__name__}: {exc}"
        emit(wire.dumps({"final": 1, "ok": False, "error_kind": "sandbox", "error": problem}))
        os._exit(0)
    try:
        if request.get("op") == "tests":
            _run_tests(request, capture, emit, limits, config)
        else:
            emit(_run(request, capture, limits, config))
    except BaseException as exc:  # a failure of our own code, or a tool's sabotage of it
        with wire.suppress(BaseException):
            kind, message = failures.classify(exc, limits, config)
            emit(wire.dumps({"final": 1, "ok": False, "error_kind": kind, "error": message}))
    if config.get("uid") is not None:
        with wire.suppress(BaseException):
            os.kill(-1, signals.SIGKILL)  # whatever the call started, however it hid
    os._exit(0)


# -- setting up -----------------------------------------------------------------------------


def _empty_workdir(workdir: str) -> None:
    os.chdir(workdir)
    with wire.suppress(OSError):
        os.chmod(workdir, 0o700)
    with os.scandir(workdir) as entries:
        for entry in entries:
            _remove(entry.path)


def _remove(path: str) -> None:
    with wire.suppress(FileNotFoundError):
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


# -- running a function ---------------------------------------------------------------------


def _run(
    request: dict[str, Any], capture: _Capture, limits: dict[str, Any], config: dict[str, Any]
) -> str:
    """Define the code, call the function, and return the final message as JSON text."""

    def failure(kind: str, message: str) -> str:
        return wire.dumps(
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
    trouble = json_types.check_arguments(function, arguments, namespace)
    if trouble is not None:
        return failure("bad_arguments", trouble)
    try:
        value = _settle(function(**arguments))
    except TypeError as exc:
        tb = exc.__traceback__
        if tb is not None and tb.tb_next is None:  # raised by the call itself: the binding
            return failure("bad_arguments", str(exc))
        return failure(*failures.classify(exc, limits, config))
    except BaseException as exc:
        return failure(*failures.classify(exc, limits, config))
    try:
        value_json = wire.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return failure("exception", json_types.not_json(value))
    except MemoryError:
        return failure("memory", "ran out of memory encoding the result")
    if len(value_json) > wire.MAX_RESULT_BYTES:
        size = f"returned {len(value_json)} bytes of JSON; the limit is {wire.MAX_RESULT_BYTES}"
        return failure("resource_limit", size)
    output = wire.dumps(capture.text())
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
        kind, message = failures.classify(exc, limits, config)
        return kind, "defining it failed: " + message
    return None


def _settle(value: Any) -> Any:
    """Run a coroutine a tool returned (an ``async def`` tool) to its value."""
    if type(value).__name__ == "coroutine" and hasattr(value, "send"):
        import asyncio

        return asyncio.run(value)
    return value


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
        emit(wire.dumps(message))

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
    emit(wire.dumps({"tests": names}))
    for name in names:
        start = time.perf_counter()
        result: dict[str, Any] = {"test": name, "ok": True, "error": None}
        try:
            _settle(namespace[name]())
        except BaseException as exc:
            kind, message = failures.classify(exc, limits, config)
            if kind == "exception":
                message = failures.explain_assert(exc, message)
            result.update(ok=False, error=message, kind=kind)
        result["ms"] = round((time.perf_counter() - start) * 1000, 3)
        emit(wire.dumps(result))
    final()
