"""A selfeng with the starter library, on the in-memory log, with a real subprocess sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from selfeng.app import Selfeng
from selfeng.core.backends import open_sandbox
from selfeng.core.settings import Settings
from selfeng.infra.memory_log import MemoryLog
from selfeng.infra.memory_store import MemoryStore


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
