"""Shared fixtures. The Kafka broker fixture lives in tests/kafka_broker.py, the PostgreSQL
server in tests/postgres_server.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selfeng.app import Selfeng
from selfeng.core.settings import Settings
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore

pytest_plugins = ["tests.kafka_broker", "tests.llm_server", "tests.postgres_server"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a fresh embedded home in a temporary directory."""
    return Settings.resolve(home=tmp_path / "home", env={})


@pytest.fixture
def app(settings: Settings) -> Iterator[Selfeng]:
    """A fresh embedded selfeng (SQLite log and store)."""
    with Selfeng.open(settings) as opened:
        yield opened


@pytest.fixture
def memory_app() -> Iterator[Selfeng]:
    """A selfeng on the in-memory log and store."""
    with Selfeng(MemoryLog(), MemoryStore()) as opened:
        yield opened
