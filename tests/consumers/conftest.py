"""A selfeng with the starter library, on the in-memory log, with a real subprocess sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from selfeng.app import Selfeng
from selfeng.consumers.worker import Worker
from selfeng.core.backends import open_sandbox
from selfeng.core.settings import Settings
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore


def seeded_app(**kwargs: Any) -> Selfeng:
    """A seeded selfeng on the in-memory log with the subprocess sandbox and no LLM;
    ``kwargs`` go to ``Selfeng`` (``learners=``, ``llm=``)."""
    app = Selfeng(
        MemoryLog(),
        MemoryStore(),
        settings=Settings.resolve(env={}),
        sandbox=open_sandbox("subprocess://"),
        **{"llm": None, **kwargs},
    )
    app.seed_tools()
    return app


@pytest.fixture(scope="module")
def seeded() -> Iterator[Selfeng]:
    """Shared by a module's tests (seeding runs twenty test suites in the sandbox)."""
    with seeded_app(llm=True) as app:
        yield app


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll ``check`` until it holds or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@contextmanager
def running(worker: Worker, poll: float = 0.1) -> Iterator[threading.Thread]:
    """``worker`` consuming in a thread, stopped (and joined) on the way out."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"poll": poll})
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(30)
