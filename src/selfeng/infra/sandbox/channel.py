"""One sandbox worker and the line protocol the pool speaks with it.

A ``Channel`` is how bytes reach a started worker and come back (a process's pipes for
``subprocess://`` and ``bwrap://``, a container's attached stream for ``docker://``). A
``Worker`` is a started channel that said hello: it sends one JSON request per line and
reads the reply with a deadline, raising ``WorkerTimeout`` when none comes and
``WorkerGone`` when the worker died or broke the protocol (a garbled or out-of-turn reply, a
line longer than ``MAX_REPLY_BYTES``). The pool (``sandbox.pool``) decides what to do then.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final

import orjson

from selfeng.core.sandbox import SandboxUnavailable

MAX_REPLY_BYTES: Final = 16 << 20
"""The longest reply line the pool reads before it calls the worker broken."""


class WorkerGone(Exception):
    """A worker died or broke the protocol."""


class WorkerTimeout(Exception):
    """A worker did not answer in time."""


class Channel(ABC):
    """A started worker (a process or a container): a byte pipe to its zygote."""

    label: str = ""
    """What to call it in messages: a pid or a container id."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Write to the worker's stdin; ``WorkerGone`` if it has gone."""

    @abstractmethod
    def read(self, timeout: float) -> bytes | None:
        """Bytes from its stdout: None if none came in time, ``b""`` once it has closed."""

    @abstractmethod
    def alive(self) -> bool:
        """Whether the worker still runs, as far as can be told cheaply."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the worker now and release what it holds. Idempotent."""

    def close(self) -> None:
        """Stop the worker politely if it can be done quickly, else kill it."""
        self.kill()

    def diagnostics(self) -> str:
        """What the worker said on stderr, for a failure message."""
        return ""

    def receive_line(self, deadline: float) -> bytes:
        """The next line the worker writes, before ``deadline`` (``time.monotonic``)."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return line
            if len(self._buffer) > MAX_REPLY_BYTES:
                raise WorkerGone(f"a reply longer than {MAX_REPLY_BYTES} bytes")
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerTimeout("no answer in time")
            data = self.read(left)
            if data is None:
                continue
            if not data:
                said = self.diagnostics()
                raise WorkerGone("the worker exited" + (f": {said}" if said else ""))
            self._buffer += data


class ProcessChannel(Channel):
    """A worker started as a local process (possibly wrapped: unshare, bwrap)."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: str,
        stdin: bytes = b"",
        cleanup: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__()
        self._cleanup = cleanup
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the worker)
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                bufsize=0,
            )
        except OSError as exc:
            self._stderr.close()
            if cleanup is not None:
                cleanup(False)
            raise SandboxUnavailable(f"cannot start {argv[0]}: {exc}") from exc
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        self._poller = select.poll()
        self._poller.register(self._out, select.POLLIN)
        self._done = False
        self.pid = self._proc.pid
        self.label = f"pid {self.pid}"
        self._graceful = False
        if stdin:
            with suppress(WorkerGone):  # a worker that died at once says so in its hello
                self.send(stdin)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._in, view) :]
        except OSError as exc:
            raise WorkerGone(f"the worker's stdin is closed ({exc.strerror})") from exc

    def read(self, timeout: float) -> bytes | None:
        if not self._poller.poll(timeout * 1000):
            return None
        return os.read(self._out, 1 << 20)

    def alive(self) -> bool:
        return not self._done and self._proc.poll() is None

    def kill(self) -> None:
        if self._done:
            return
        self._done = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._release()

    def close(self) -> None:
        if self._done:
            return
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # the worker cleans up and exits when its stdin closes
            self._graceful = self._proc.wait(timeout=1.0) == 0
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def diagnostics(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 2000))
            return self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def _release(self) -> None:
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()
        if self._cleanup is not None:
            self._cleanup(self._graceful)


@dataclass(frozen=True)
class WorkerInfo:
    """A worker of a pool, as ``PooledSandbox.workers`` reports it."""

    id: str
    """The random id the worker chose at start."""
    label: str
    """Its process id or container id, outside the sandbox."""
    calls: int
    """Calls it has served."""
    python: str
    """The Python version inside."""


class Worker:
    """One started worker and its side of the protocol."""

    def __init__(self, channel: Channel, hello: dict[str, Any]) -> None:
        self.channel = channel
        self.hello = hello
        self.id = str(hello.get("worker", ""))
        self.calls = 0
        self._sequence = 0

    @classmethod
    def start(cls, channel: Channel, timeout: float, what: str) -> Worker:
        """Wait for a started channel's hello; ``SandboxUnavailable`` if it never comes."""
        try:
            line = channel.receive_line(time.monotonic() + timeout)
            hello = orjson.loads(line)
            if not isinstance(hello, dict) or "hello" not in hello:
                raise WorkerGone(f"it said {line[:200]!r} instead of hello")
        except WorkerTimeout:
            said = channel.diagnostics()
            channel.kill()
            raise SandboxUnavailable(
                f"{what}: the worker did not start within {timeout:g} s"
                + (f": {said}" if said else "")
            ) from None
        except (WorkerGone, orjson.JSONDecodeError) as exc:
            channel.kill()
            raise SandboxUnavailable(f"{what}: the worker could not start: {exc}") from exc
        if hello.get("error"):
            channel.kill()
            raise SandboxUnavailable(f"{what}: {hello['error']}")
        return cls(channel, hello)

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and read its reply; ``WorkerGone`` or ``WorkerTimeout`` if not."""
        self._sequence += 1
        self.channel.send(orjson.dumps({**message, "id": self._sequence}) + b"\n")
        line = self.channel.receive_line(time.monotonic() + timeout)
        try:
            reply = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise WorkerGone(f"a garbled reply: {line[:200]!r}") from exc
        if not isinstance(reply, dict) or reply.get("id") != self._sequence:
            raise WorkerGone(f"a reply out of turn: {line[:200]!r}")
        calls = reply.get("calls")
        self.calls = calls if isinstance(calls, int) else self.calls + 1
        return reply

    def info(self) -> WorkerInfo:
        """What ``PooledSandbox.workers`` reports about it."""
        return WorkerInfo(self.id, self.channel.label, self.calls, str(self.hello.get("python")))
