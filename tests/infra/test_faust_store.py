"""The faust worker's pieces that need no broker: the fold-topic envelope, and the store
that keeps a fold in faust tables (plain dicts here)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from selfeng.core.mapper import append_events
from selfeng.core.records import StoredRecord
from selfeng.infra.faust.envelope import pack, unpack
from selfeng.infra.faust.store import CHECKPOINT_KEY, Rows, TableStore, decode_row
from selfeng.infra.log.memory import MemoryLog
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.replay import json_differences, rebuild
from selfeng.projections.runner import ProjectionRunner
from tests.infra.faust_events import request_events


def test_records_travel_through_the_fold_topic_unchanged() -> None:
    records = [
        (
            b"\x01" * 16,
            StoredRecord(b"\x01" * 16, "selfeng.requests", "k", "T", 2, b'{"a":1}', 5, 1, 7),
        ),
        # a foreign client's bytes, not UTF-8, and a dedupe key with a digest
        (
            b"\x02" * 24,
            StoredRecord(b"\x02" * 16, "selfeng.tools", "", "", 0, b"\xff\x00\xe9", 0, 0, 0),
        ),
    ]
    assert unpack(pack(records)) == records


def _runner(log: MemoryLog, tables: dict[str, Rows]) -> ProjectionRunner:
    return ProjectionRunner(log, TableStore(tables), default_projections(MAIN), fork=MAIN)


def test_a_fold_kept_in_tables_resumes_to_the_embedded_fold() -> None:
    log = MemoryLog()
    events = request_events(120)
    append_events(log, events[:400])
    tables: dict[str, Rows] = {p.name: {} for p in default_projections(MAIN)}
    first = _runner(log, tables)
    first.catch_up()
    assert first.rebuilt == {}
    # rows keyed like the embedded store's, the head and position under @checkpoint
    assert b"stats/percent@1" in tables["registry"]
    assert all(CHECKPOINT_KEY in table for table in tables.values())
    assert decode_row(tables["registry"][b"stats/percent@1"])[1].startswith(b"{")

    append_events(log, events[400:])
    second = _runner(log, tables)  # loads from the tables, folds only the rest
    assert second.rebuilt == {}
    assert second.position == first.position
    second.catch_up()
    expected = rebuild(log, default_projections, MAIN)
    for name in expected.names():
        assert json_differences(expected.dumped(name), second.dumped(name)) == [], name
    reloaded = _runner(log, tables)
    for name in expected.names():
        assert json_differences(expected.dumped(name), reloaded.dumped(name)) == [], name


class _Killed(BaseException):
    """The process dying (nothing catches it)."""


class _DyingTable(dict[bytes, bytes]):
    """A table whose process dies after ``budget`` more writes (sets and deletes)."""

    def __init__(self, rows: dict[bytes, bytes], budget: list[int]) -> None:
        super().__init__(rows)
        self.budget = budget

    def _spend(self) -> None:
        if self.budget[0] <= 0:
            raise _Killed
        self.budget[0] -= 1

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._spend()
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        self._spend()
        super().__delitem__(key)


def test_a_worker_killed_in_the_middle_of_a_commit_counts_nothing_twice() -> None:
    log = MemoryLog()
    events = request_events(90)
    append_events(log, events[:300])
    tables: dict[str, Rows] = {p.name: {} for p in default_projections(MAIN)}
    _runner(log, tables).catch_up()
    append_events(log, events[300:])
    expected = rebuild(log, default_projections, MAIN)
    # how many writes the next commit makes, then a kill after each of several of them
    budget = [1 << 30]
    dying: dict[str, Rows] = {n: _DyingTable(dict(t), budget) for n, t in tables.items()}
    _runner(log, dying).catch_up()
    writes = (1 << 30) - budget[0]
    assert writes > 20
    for kill_after in sorted({0, 1, 2, writes // 3, writes // 2, writes - 2, writes - 1}):
        budget[0] = kill_after
        dying = {n: _DyingTable(dict(t), budget) for n, t in tables.items()}
        try:
            _runner(log, dying).catch_up()
        except _Killed:
            pass
        else:
            raise AssertionError(f"the commit made fewer than {kill_after} writes")
        survived: dict[str, Rows] = {n: dict(t) for n, t in dying.items()}  # as left
        resumed = _runner(log, survived)
        resumed.catch_up()
        for name in expected.names():
            differences = json_differences(expected.dumped(name), resumed.dumped(name))
            assert differences == [], (kill_after, name, differences[:3])


def test_faust_keeps_its_files_out_of_the_current_directory(tmp_path: Path) -> None:
    """faust's default data folder is "{app id}-data" in the current directory: a worker
    started in a checkout would litter it. The fold's is in the temp folder, or the home."""
    from selfeng.infra.faust.app import faust_settings
    from selfeng.infra.faust.names import FaustNames

    names = FaustNames.from_url("kafka://127.0.0.1:9092?namespace=litter")
    default = Path(faust_settings(names)["datadir"])
    assert default.is_absolute()
    assert default.parent == Path(tempfile.gettempdir()) / "selfeng-faust"
    assert faust_settings(names, datadir=tmp_path / "faust")["datadir"] == str(tmp_path / "faust")
