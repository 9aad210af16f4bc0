"""The contract every ProjectionStore adapter passes, unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from selfeng.core.positions import GlobalPosition, PartitionPosition
from selfeng.core.store import Checkpoint, CheckpointBehind, ProjectionStore, RowChange


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

    # -- keyed rows ----------------------------------------------------------------------

    def test_rows_commit_with_their_checkpoint_and_keep_their_first_place(
        self, store: ProjectionStore
    ) -> None:
        head = replace(cp("cache", 1, state=b'{"n": 2}'), tables=("entries", "dropped"))
        store.commit(
            [head],
            [
                RowChange("main", "cache", "entries/b", b'"b1"', seq=0),
                RowChange("main", "cache", "entries/a", b'"a1"', seq=1),
                RowChange("main", "cache", "dropped/z", b"9", seq=2),
            ],
        )
        assert store.load("main", "cache") == head
        # an update keeps the row's place; a row deleted and inserted again takes a new one
        store.commit(
            [replace(head, position=GlobalPosition(2))],
            [
                RowChange("main", "cache", "entries/b", b'"b2"', seq=7),
                RowChange("main", "cache", "dropped/z", None),
                RowChange("main", "cache", "dropped/z", b"10", seq=3),
                RowChange("main", "cache", "entries/c", b'"c1"', seq=4),
            ],
        )
        assert list(store.rows("main", "cache")) == [
            ("entries/b", b'"b2"', 0),
            ("entries/a", b'"a1"', 1),
            ("dropped/z", b"10", 3),
            ("entries/c", b'"c1"', 4),
        ]
        assert store.get("main", "cache", "entries/a") == b'"a1"'
        assert store.get("main", "cache", "entries/zz") is None
        assert store.get("other", "cache", "entries/a") is None

    def test_scan_pages_through_one_prefix_in_key_order(self, store: ProjectionStore) -> None:
        keys = [f"tools/t{i:03d}" for i in range(25)] + ["toolsx/1", "stats/t001@1"]
        store.commit(
            [cp("registry", 1)],
            [RowChange("main", "registry", k, b"{}", seq=i) for i, k in enumerate(keys)],
        )
        pages, after = [], ""
        while page := store.scan("main", "registry", "tools/", after=after, limit=10):
            pages.append([k for k, _ in page])
            after = page[-1][0]
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [k for page in pages for k in page] == sorted(keys[:25])
        assert [k for k, _ in store.scan("main", "registry", limit=100)] == sorted(keys)
        assert store.scan("main", "registry", "nothing/") == []

    def test_cleared_prefixes_go_before_the_changes(self, store: ProjectionStore) -> None:
        rows = [RowChange("main", "p", f"{t}/{i}", b"1", seq=i) for t in "ab" for i in range(3)]
        store.commit([cp("p", 1)], rows)
        store.commit(
            [cp("p", 2)],
            [RowChange("main", "p", "a/new", b"2", seq=9)],
            cleared=[("main", "p", "a/")],
        )
        assert [k for k, _, _ in store.rows("main", "p")] == ["b/0", "b/1", "b/2", "a/new"]
        store.commit([cp("p", 3)], cleared=[("main", "p", "")])
        assert list(store.rows("main", "p")) == []

    def test_a_save_behind_the_stored_position_writes_nothing(self, store: ProjectionStore) -> None:
        store.commit([cp("p", 10)], [RowChange("main", "p", "a/1", b"10", seq=0)])
        with pytest.raises(CheckpointBehind, match="main/p"):
            store.commit([cp("q", 9), cp("p", 9)], [RowChange("main", "p", "a/1", b"9", seq=0)])
        assert store.get("main", "p", "a/1") == b"10"
        assert store.load("main", "q") is None
        store.commit([cp("p", 10)], [RowChange("main", "p", "a/1", b"11", seq=0)])
        assert store.get("main", "p", "a/1") == b"11"

    def test_some_projections_of_a_fork_can_be_dropped(self, store: ProjectionStore) -> None:
        store.commit([cp("p", 1, fork="f"), cp("q", 1, fork="f"), cp("p", 1)])
        store.commit([cp("p", 2, fork="f")], [RowChange("f", "p", "a/1", b"1", seq=0)])
        store.save([cp("p", 3, fork="f")], snapshot=True)
        store.drop("f", ["p"])
        assert store.load("f", "p") is None
        assert list(store.rows("f", "p")) == []
        assert store.snapshots("f", "p") == []
        assert store.load("f", "q") == cp("q", 1, fork="f")
        assert store.load("main", "p") == cp("p", 1)

    def test_dropping_a_fork_drops_its_rows(self, store: ProjectionStore) -> None:
        for fork in ("main", "lenient"):
            store.commit([cp("p", 1, fork=fork)], [RowChange(fork, "p", "a/1", b"1", seq=0)])
        store.drop("lenient")
        assert list(store.rows("lenient", "p")) == []
        assert store.get("main", "p", "a/1") == b"1"
