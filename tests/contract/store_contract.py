"""The contract every ProjectionStore adapter passes, unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.core.positions import GlobalPosition, PartitionPosition
from selfeng.core.store import Checkpoint, ProjectionStore


def cp(projection: str, offset: int, fork: str = "main", state: bytes = b"{}") -> Checkpoint:
    return Checkpoint(
        fork=fork,
        projection=projection,
        log_id="log-1",
        projection_version=1,
        position=GlobalPosition(offset),
        events=offset,
        state=state,
        saved_at=1.0,
    )


class StoreContract:
    """Behaviour every projection store must have."""

    def create_store(self) -> ProjectionStore:
        """A new, empty store for one test."""
        raise NotImplementedError

    @pytest.fixture
    def store(self) -> Iterator[ProjectionStore]:
        store = self.create_store()
        try:
            yield store
        finally:
            store.close()

    def test_nothing_is_stored_at_first(self, store: ProjectionStore) -> None:
        assert store.load("main", "events") is None
        assert store.forks() == []
        assert store.snapshots("main", "events") == []

    def test_the_latest_save_wins(self, store: ProjectionStore) -> None:
        store.save([cp("events", 1, state=b'{"n": 1}'), cp("policies", 1)])
        store.save([cp("events", 5, state=b'{"n": 5}')])
        loaded = store.load("main", "events")
        assert loaded == cp("events", 5, state=b'{"n": 5}')
        assert store.load("main", "policies") == cp("policies", 1)

    def test_partition_positions_are_stored_whole(self, store: ProjectionStore) -> None:
        position = PartitionPosition({("selfeng.requests", 0): 7, ("selfeng.tools", 3): 2})
        checkpoint = Checkpoint("main", "events", "kafka", 1, position, 9, b"[]", 2.0)
        store.save([checkpoint])
        assert store.load("main", "events") == checkpoint

    def test_snapshots_are_kept_oldest_first_and_bounded(self, store: ProjectionStore) -> None:
        for offset in range(1, 16):
            store.save([cp("events", offset)], snapshot=True)
        kept = store.snapshots("main", "events")
        assert [s.position for s in kept] == [GlobalPosition(o) for o in range(6, 16)]
        store.save([cp("events", 20)])
        assert len(store.snapshots("main", "events")) == 10

    def test_forks_are_separate_and_can_be_dropped(self, store: ProjectionStore) -> None:
        store.save([cp("events", 3)])
        store.save([cp("events", 2, fork="lenient")], snapshot=True)
        assert store.forks() == ["lenient", "main"]
        assert store.load("lenient", "events") == cp("events", 2, fork="lenient")
        store.drop("lenient")
        assert store.forks() == ["main"]
        assert store.load("lenient", "events") is None
        assert store.snapshots("lenient", "events") == []
        assert store.load("main", "events") == cp("events", 3)
