"""The warm pool every sandbox backend shares, and the ``Sandbox`` port built on it.

A backend says only how to start one worker (``PooledSandbox.start_channel``: a command line
for ``subprocess://`` and ``bwrap://``, a container for ``docker://``); everything else is
here: starting workers from one long-lived thread, handing them out, sending requests and
reading replies with a deadline (through ``sandbox.channel``), killing and replacing a worker
that misbehaves (no answer in time, a garbled reply, death), and turning replies into
``RunResult`` and ``TestRun``.

The worker itself (``sandbox.worker``) enforces each call's timeout and limits and survives a
tool that misbehaves; the pool's deadline (the call's timeout plus ``GRACE_S``) only catches a
worker that stopped answering, which is then killed and replaced.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import weakref
from abc import abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import asdict
from typing import Any, Final, TypeVar, cast, get_args
from urllib.parse import parse_qs, urlsplit

import orjson
from pydantic import JsonValue

from selfeng.core.sandbox import ErrorKind, Limits, RunResult, Sandbox, SandboxUnavailable, TestRun
from selfeng.infra.sandbox.channel import Channel, Worker, WorkerGone, WorkerInfo, WorkerTimeout
from selfeng.infra.sandbox.worker import DEFAULT_PRELOAD

GRACE_S: Final = 2.0
"""How long past a call's own timeout the pool waits before it kills the worker."""

STARTUP_TIMEOUT_S: Final = 10.0
"""How long a new worker may take to say hello."""

_KINDS: Final = frozenset(get_args(ErrorKind))
_TEST_DEF = re.compile(r"^(?:async\s+)?def\s+(test_\w+)\s*\(", re.MULTILINE)
_T = TypeVar("_T")


class _Spawner:
    """One long-lived thread that starts every worker of a pool.

    ``bwrap --die-with-parent`` (``PR_SET_PDEATHSIG``) kills the sandbox when the *thread*
    that started it exits, so workers must not be started from short-lived caller threads.
    """

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=f"{name}-spawner", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, future = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

    def submit(self, fn: Callable[[], _T]) -> Future[_T]:
        """Run ``fn`` on the spawner thread."""
        future: Future[_T] = Future()
        self._queue.put((fn, future))
        return future

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the spawner thread and wait for it."""
        if threading.current_thread() is self._thread:
            return fn()
        return self.submit(fn).result()

    def close(self) -> None:
        """Let the thread finish what is queued, then end."""
        self._queue.put(None)


class WorkerPool:
    """Warm workers handed out one call at a time; ``size=0`` starts a fresh one per call."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Channel],
        *,
        size: int,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.size = size
        self._start_channel = start
        self._startup_timeout = startup_timeout
        self._spawner = _Spawner(f"selfeng-{name}")
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._workers: dict[int, Worker] = {}
        self._live = 0  # started or starting
        self._closed = False
        try:
            channels = [self._spawner.call(start) for _ in range(size)]
            for index, channel in enumerate(channels):
                try:
                    worker = Worker.start(channel, startup_timeout, f"{name} sandbox")
                except BaseException:
                    for other in channels[index + 1 :]:
                        other.kill()
                    raise
                self._adopt(worker)
                self._idle.append(worker)
                self._live += 1
        except BaseException:
            self.close()
            raise

    def call(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a request to a free worker; a worker that fails it is killed and replaced."""
        worker = self._acquire()
        try:
            reply = worker.request(message, timeout)
        except BaseException:  # its state is unknown now: never hand it out again
            self._discard(worker)
            raise
        self._release(worker)
        return reply

    def workers(self) -> list[WorkerInfo]:
        """The live workers, idle or busy."""
        with self._cond:
            return [w.info() for w in self._workers.values()]

    def kill_worker(self, worker_id: str) -> bool:
        """Kill a worker as if it had crashed (for tests and operators); True if found."""
        with self._cond:
            found = [w for w in self._workers.values() if w.id == worker_id]
        for worker in found:
            worker.channel.kill()
        return bool(found)

    def close(self) -> None:
        """Stop idle workers now and busy ones when their call ends."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            self._forget(worker)
            worker.channel.close()
        self._spawner.close()

    # -- internals -------------------------------------------------------------------------

    def _acquire(self) -> Worker:
        dead: list[Worker] = []
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise SandboxUnavailable(f"the {self.name} sandbox is closed")
                    while self._idle:
                        worker = self._idle.pop()
                        if worker.channel.alive():
                            return worker
                        dead.append(worker)
                        self._live -= 1
                    if self.size == 0 or self._live < self.size:
                        self._live += 1
                        break
                    self._cond.wait()
        finally:
            for worker in dead:
                self._forget(worker)
                worker.channel.kill()
        try:
            channel = self._spawner.call(self._start_channel)
            worker = Worker.start(channel, self._startup_timeout, f"{self.name} sandbox")
        except BaseException:
            with self._cond:
                self._live -= 1
                self._cond.notify()
            raise
        self._adopt(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._cond:
            keep = self.size > 0 and not self._closed
            if keep:
                self._idle.append(worker)
            else:
                self._live -= 1
            self._cond.notify()
        if not keep:
            self._forget(worker)
            worker.channel.close()

    def _discard(self, worker: Worker) -> None:
        self._forget(worker)
        worker.channel.kill()
        with self._cond:
            self._live -= 1
            replace = self.size > 0 and not self._closed
            if replace:
                self._live += 1
            self._cond.notify()
        if replace:  # start the replacement now, so the next call finds it warm
            self._spawner.submit(self._replace)

    def _replace(self) -> None:
        try:
            worker = Worker.start(
                self._start_channel(), self._startup_timeout, f"{self.name} sandbox"
            )
        except BaseException:
            with self._cond:
                self._live -= 1  # the next call will try again, and say why if it fails
                self._cond.notify()
            return
        with self._cond:
            if not self._closed:
                self._adopt(worker)
                self._idle.append(worker)
                self._cond.notify()
                return
            self._live -= 1
        worker.channel.close()

    def _adopt(self, worker: Worker) -> None:
        with self._cond:
            self._workers[id(worker)] = worker

    def _forget(self, worker: Worker) -> None:
        with self._cond:
            self._workers.pop(id(worker), None)


class PooledSandbox(Sandbox):
    """A ``Sandbox`` served by a ``WorkerPool``; subclasses say how to start a worker."""

    def __init__(
        self, *, workers: int = 2, guard: bool = True, startup_timeout: float = STARTUP_TIMEOUT_S
    ) -> None:
        if workers < 0:
            raise ValueError(f"workers must be 0 (a fresh worker per call) or more, not {workers}")
        self.guard = guard
        """Whether calls run under the guard (refusing processes, sockets, outside writes)."""
        self.warm = workers > 0
        """Whether workers are kept between calls."""
        self._pool = WorkerPool(
            self.name, self.start_channel, size=workers, startup_timeout=startup_timeout
        )
        # a sandbox never closed still stops its workers and deletes their directories
        weakref.finalize(self, self._pool.close)

    @abstractmethod
    def start_channel(self) -> Channel:
        """Start one worker (on the pool's spawner thread) and return its channel."""

    def worker_config(self, **settings: Any) -> dict[str, Any]:
        """The worker's JSON config: the common settings plus the backend's."""
        preload = list(DEFAULT_PRELOAD) if self.warm else []  # a cold start imports little
        return {"guard": self.guard, "preload": preload, **settings}

    def run(
        self,
        code: str,
        function: str,
        arguments: dict[str, JsonValue],
        limits: Limits | None = None,
    ) -> RunResult:
        limits = limits or Limits()
        started = time.perf_counter()
        request = {
            "op": "run",
            "code": code,
            "function": function,
            "arguments": arguments,
            "limits": asdict(limits),
        }
        try:
            orjson.dumps(arguments)
        except TypeError as exc:
            return self._failed(started, "bad_arguments", f"the arguments are not JSON: {exc}")
        try:
            reply = self._pool.call(request, limits.timeout_s + GRACE_S)
        except WorkerTimeout:
            return self._failed(started, "timeout", self._unresponsive(limits))
        except WorkerGone as exc:
            return self._failed(started, "sandbox", f"the worker died during the call ({exc})")
        ok = reply.get("ok") is True
        return RunResult(
            ok=ok,
            value=reply.get("value") if ok else None,
            error=None if ok else str(reply.get("error") or "the call failed"),
            error_kind=None if ok else _kind(reply.get("error_kind")),
            duration_ms=_ms(started),
            sandbox=self.name,
            output=str(reply.get("output") or ""),
        )

    def run_tests(self, code: str, tests: str, limits: Limits | None = None) -> TestRun:
        limits = limits or Limits()
        started = time.perf_counter()
        request = {"op": "tests", "code": code, "tests": tests, "limits": asdict(limits)}
        try:
            reply = self._pool.call(request, limits.timeout_s + GRACE_S)
        except WorkerTimeout:
            reply = {"tests": None, "results": [], "error": self._unresponsive(limits)}
        except WorkerGone as exc:
            reply = {"tests": None, "results": [], "error": f"the worker died ({exc})"}
        return summarise_tests(reply, tests, started, self.name)

    def workers(self) -> list[WorkerInfo]:
        """The pool's live workers (ids, outside pids or container ids, calls served)."""
        return self._pool.workers()

    def kill_worker(self, worker_id: str) -> bool:
        """Kill one worker as if it had crashed; the pool replaces it. True if found."""
        return self._pool.kill_worker(worker_id)

    def close(self) -> None:
        self._pool.close()

    def _failed(self, started: float, kind: ErrorKind, error: str) -> RunResult:
        return RunResult(
            ok=False, error=error, error_kind=kind, duration_ms=_ms(started), sandbox=self.name
        )

    def _unresponsive(self, limits: Limits) -> str:
        waited = limits.timeout_s + GRACE_S
        return f"timed out: the worker did not answer within {waited:g} s and was replaced"


def summarise_tests(reply: dict[str, Any], tests: str, started: float, sandbox: str) -> TestRun:
    """The ``TestRun`` for a worker's reply (or for a run that died, from the tests' source)."""
    names = reply.get("tests")
    if not isinstance(names, list):
        names = list(dict.fromkeys(_TEST_DEF.findall(tests)))
    results = {r["name"]: r for r in reply.get("results") or [] if isinstance(r, dict)}
    error = reply.get("error")
    failures: dict[str, str] = {}
    lines: list[str] = []
    passed = 0
    for name in names:
        result = results.get(name)
        if result is None:
            failures[name] = f"not run: {error or 'the run ended early'}"
            lines.append(f"NOT RUN {name}")
        elif result.get("ok"):
            passed += 1
            lines.append(f"PASS {name} ({result.get('ms')} ms)")
        else:
            failures[name] = str(result.get("error"))
            lines.append(f"FAIL {name}: {failures[name]}")
    if error:
        lines.append(f"ERROR: {error}")
    if not names and not error:
        lines.append("no test_* functions found")
    printed = str(reply.get("output") or "")
    if printed:
        lines.append("--- printed ---\n" + printed)
    return TestRun(
        passed=passed,
        failed=len(names) - passed,
        output="\n".join(lines)[:65536],
        duration_ms=_ms(started),
        sandbox=sandbox,
        failures=failures,
    )


def parse_options(url: str, scheme: str, known: Mapping[str, type]) -> dict[str, Any]:
    """The query options of a sandbox URL, typed (int, float, bool, str, tuple of str)."""
    parts = urlsplit(url)
    if parts.scheme != scheme:
        raise ValueError(f"not a {scheme} URL: {url!r}")
    raw = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {scheme} URL option(s) {', '.join(unknown)} in {url!r}; "
            f"known: {', '.join(known)}"
        )
    options: dict[str, Any] = {}
    for name, values in raw.items():
        text, kind = values[-1].strip(), known[name]
        try:
            if kind is bool:
                if text.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError(text)
                options[name] = text.lower() in ("1", "true", "yes", "on")
            elif kind is tuple:
                options[name] = tuple(p for p in text.split(",") if p)
            else:
                options[name] = kind(text)
        except ValueError:
            raise ValueError(f"option {name} must be a {kind.__name__}, not {text!r}") from None
    return options


def _kind(value: object) -> ErrorKind:
    return cast(ErrorKind, value) if value in _KINDS else "exception"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
