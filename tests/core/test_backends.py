from pathlib import Path

import pytest

from selfeng.core.backends import BackendError, open_log, open_store
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.log.sqlite import SqliteLog
from selfeng.infra.store.sqlite import SqliteStore


def test_urls_choose_the_adapter(tmp_path: Path) -> None:
    assert isinstance(open_log("memory://"), MemoryLog)
    with open_log(f"sqlite:///{tmp_path}/l.db") as log:
        assert isinstance(log, SqliteLog)
    with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        assert isinstance(store, SqliteStore)


def test_an_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(BackendError, match="known: memory://, sqlite://, kafka://"):
        open_log("cassandra://x")


def test_a_malformed_url_names_itself() -> None:
    with pytest.raises(BackendError, match="log URL 'sqlite://'"):
        open_log("sqlite://")
    with pytest.raises(BackendError, match="unknown kafka URL option"):
        open_log("kafka://127.0.0.1:1?partitons=3")
