"""The pool's protocol handling, against fake channels: garbled, silent and dying workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from selfeng.core.sandbox import SandboxUnavailable
from selfeng.infra.sandbox.channel import Channel, WorkerGone, WorkerTimeout
from selfeng.infra.sandbox.pool import WorkerPool, parse_options, summarise_tests


class ScriptedChannel(Channel):
    """A worker that answers requests with what a function says (None: silence)."""

    def __init__(self, answer: Callable[[dict[str, object]], bytes | None], hello: bytes) -> None:
        super().__init__()
        self.answer = answer
        self.pending = hello
        self.killed = False

    def send(self, data: bytes) -> None:
        if self.killed:
            raise WorkerGone("killed")
        said = self.answer(orjson.loads(data))
        self.pending += said or b""

    def read(self, timeout: float) -> bytes | None:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        time.sleep(min(timeout, 0.01))
        return None

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True


HELLO = b'{"hello": 1, "worker": "w", "python": "3.11.7"}\n'


def echo(request: dict[str, object]) -> bytes:
    return (
        orjson.dumps({"id": request["id"], "ok": True, "value": request.get("x"), "calls": 1})
        + b"\n"
    )


def pool_of(
    answer: Callable[[dict[str, object]], bytes | None], hello: bytes = HELLO
) -> tuple[WorkerPool, list[ScriptedChannel]]:
    started: list[ScriptedChannel] = []

    def start() -> Channel:
        channel = ScriptedChannel(answer, hello)
        started.append(channel)
        return channel

    return WorkerPool("fake", start, size=1, startup_timeout=0.5), started


def test_replies_come_back_in_turn() -> None:
    pool, started = pool_of(echo)
    assert pool.call({"op": "run", "x": 1}, 1.0)["value"] == 1
    assert pool.call({"op": "run", "x": 2}, 1.0)["value"] == 2
    assert len(started) == 1
    pool.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (lambda r: b"garbage\n", WorkerGone),
        (lambda r: b'{"id": 99, "ok": true}\n', WorkerGone),
        (lambda r: None, WorkerTimeout),
    ],
)
def test_a_misbehaving_worker_is_replaced(
    answer: Callable[[dict[str, object]], bytes | None], error: type[Exception]
) -> None:
    pool, started = pool_of(answer)
    with pytest.raises(error):
        pool.call({"op": "run"}, 0.2)
    assert started[0].killed
    deadline = time.monotonic() + 2
    while len(started) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(started) == 2  # the replacement started without waiting for a call
    pool.close()


def test_a_worker_that_cannot_start_makes_the_sandbox_unavailable() -> None:
    with pytest.raises(SandboxUnavailable, match=r"did not start within 0\.5 s"):
        pool_of(echo, hello=b"")
    with pytest.raises(SandboxUnavailable, match="cannot run as uid 5: EPERM"):
        pool_of(echo, hello=b'{"hello": 1, "error": "a call cannot run as uid 5: EPERM"}\n')
    with pytest.raises(SandboxUnavailable, match="instead of hello"):
        pool_of(echo, hello=b'{"nope": 1}\n')


def test_url_options_are_typed() -> None:
    known = {"workers": int, "guard": bool, "hide": tuple, "cpus": float, "image": str}
    assert parse_options("x://?workers=3&guard=off&hide=/a,/b&cpus=0.5&image=i:1", "x", known) == {
        "workers": 3,
        "guard": False,
        "hide": ("/a", "/b"),
        "cpus": 0.5,
        "image": "i:1",
    }
    with pytest.raises(ValueError, match="not a x URL"):
        parse_options("y://", "x", known)


def test_a_test_run_falls_back_to_the_names_in_the_source() -> None:
    tests = "def test_a():\n    pass\n\nasync def test_b():\n    pass\n\ndef helper():\n    pass\n"
    reply: dict[str, Any] = {"tests": None, "results": [], "error": "the worker died"}
    run = summarise_tests(reply, tests, time.perf_counter(), "fake")
    assert (run.passed, run.failed) == (0, 2)
    assert run.failures == {
        "test_a": "not run: the worker died",
        "test_b": "not run: the worker died",
    }
