"""A selfeng with the starter library, on the in-memory log, with a real subprocess sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.app import Selfeng
from selfeng.core.backends import open_sandbox
from selfeng.core.settings import Settings
from selfeng.infra.memory_log import MemoryLog
from selfeng.infra.memory_store import MemoryStore


@pytest.fixture(scope="module")
def seeded() -> Iterator[Selfeng]:
    """Shared by a module's tests (seeding runs twenty test suites in the sandbox)."""
    app = Selfeng(
        MemoryLog(),
        MemoryStore(),
        settings=Settings.resolve(env={}),
        sandbox=open_sandbox("subprocess://"),
    )
    app.seed_tools()
    yield app
    app.close()
