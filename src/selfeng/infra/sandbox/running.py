"""A call's child as the worker watches it: its report, the deadline, its end, the reply.

Loaded inside the sandbox under the name ``selfeng_sandbox_running`` (see
``selfeng.infra.sandbox.launch``): stdlib only, Python 3.9 or newer.

The worker waits for the child's final report, its exit or the wall-clock deadline, whichever
comes first (through a pidfd where the kernel has them), reading the child's JSON lines as
they come and stopping at a result too large. A child that timed out or said too much is
killed with all it started; one that reported is made sure of after the reply has gone out
(``Running.finish``). ``summarise`` turns what happened into the reply.
"""

from __future__ import annotations

import os
import select
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from selfeng.infra.sandbox import wire
    from selfeng.infra.sandbox.worker import Zygote
else:  # inside a sandbox the loader has defined it from source under this name
    wire = sys.modules.get("selfeng_sandbox_wire")
    if wire is None:
        from selfeng.infra.sandbox import wire

ERROR_KINDS = frozenset(
    {"bad_arguments", "exception", "timeout", "memory", "resource_limit", "sandbox", "forbidden"}
)
_SLACK = 1 << 20


class Running:
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
            self.read(_drain(self.r, wire.MAX_RESULT_BYTES + _SLACK - self.total + 1))

    def read(self, data: bytes) -> None:
        """Take bytes from the pipe, and the complete messages in them."""
        if not data:
            self.poller.unregister(self.r)
            self.r_open = False
            return
        self.buf += data
        self.total += len(data)
        if self.total > wire.MAX_RESULT_BYTES + _SLACK:
            self.too_big = True
            return
        end = self.buf.rfind(b"\n") + 1
        if not end:
            return
        for line in bytes(self.buf[:end]).split(b"\n"):
            try:
                message = wire.loads(line) if line.strip() else None
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
        return "resource_limit", f"the result is larger than {wire.MAX_RESULT_BYTES} bytes"
    status = outcome["status"]
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == wire.signals.SIGXCPU:
            return "timeout", f"used more than {float(limits.get('cpu_s', 10)):g} s of CPU time"
        if number == wire.signals.SIGXFSZ:
            return "resource_limit", "wrote a file larger than the limit"
        if number == wire.signals.SIGKILL:
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
