"""A projection store whose rows live in faust tables (any bytes-to-bytes mapping, here).

Each projection of the main line is one faust table (so one changelog topic), keyed exactly
like the rows of the embedded store:

- ``{table}/{entry}``: one row of one of the projection's keyed tables
  (``Projection.tables``); the value is the row's ``seq`` (its first-insertion place, which
  some folds rely on), a newline, and the row as JSON;
- ``@checkpoint``: the rest of the state (the head, as JSON: the whole state of a
  projection without keyed tables) with the log position it covers, the projection's
  version, the log id and the number of records folded.

``ProjectionRunner`` does the folding and decides what changed; this store only writes what
a checkpoint hands it. A commit writes the rows first and the ``@checkpoint`` key last, each
as one changelog message of the table's single partition, in order.

Not atomic: faust's at-least-once mode sends changelog messages one by one and exactly-once
(Kafka transactions) does not work on tansu, so a worker killed in the middle of a commit
leaves a changelog holding the previous ``@checkpoint`` and some of the next commit's rows.
The records between are then folded again on top of those rows: a count they changed is
counted twice. A clean stop (SIGTERM) commits completely. Snapshots are not kept (time
travel reads the embedded store); forks other than ``main`` are not stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence

import orjson

from selfeng.core.positions import position_from_json
from selfeng.core.store import Checkpoint, ProjectionStore, RowChange

CHECKPOINT_KEY = b"@checkpoint"
"""The key of a projection's head and position in its table."""
FORK = "main"
"""The only fork a faust worker folds."""

Rows = MutableMapping[bytes, bytes]
"""One projection's faust table: row keys and ``@checkpoint`` to their encoded values."""


def encode_row(seq: int, value: bytes) -> bytes:
    """A row as the table keeps it: its seq, a newline, its JSON."""
    return b"%d\n%s" % (seq, value)


def decode_row(raw: bytes) -> tuple[int, bytes]:
    """``(seq, JSON)`` of an encoded row."""
    seq, _, value = raw.partition(b"\n")
    return int(seq), value


def encode_checkpoint(cp: Checkpoint) -> bytes:
    """A checkpoint as the ``@checkpoint`` value."""
    return orjson.dumps(
        {
            "log_id": cp.log_id,
            "projection_version": cp.projection_version,
            "position": cp.position.to_json(),
            "events": cp.events,
            "state": orjson.Fragment(cp.state or b"null"),
            "saved_at": cp.saved_at,
            "tables": list(cp.tables),
        }
    )


def decode_checkpoint(projection: str, raw: bytes) -> Checkpoint:
    """The checkpoint of ``projection`` from its ``@checkpoint`` value."""
    data = orjson.loads(raw)
    return Checkpoint(
        fork=FORK,
        projection=projection,
        log_id=data["log_id"],
        projection_version=data["projection_version"],
        position=position_from_json(data["position"]),
        events=data["events"],
        state=orjson.dumps(data["state"]),
        saved_at=data["saved_at"],
        tables=tuple(data["tables"]),
    )


class TableStore(ProjectionStore):
    """The main line's checkpoints and rows, one mapping (a faust table) per projection."""

    def __init__(self, tables: Mapping[str, Rows], url: str = "faust://") -> None:
        self.url = url
        self.tables = tables

    def _table(self, fork: str, projection: str) -> Rows | None:
        return self.tables.get(projection) if fork == FORK else None

    def load(self, fork: str, projection: str) -> Checkpoint | None:
        table = self._table(fork, projection)
        raw = table.get(CHECKPOINT_KEY) if table is not None else None
        return decode_checkpoint(projection, raw) if raw is not None else None

    def commit(
        self,
        checkpoints: Sequence[Checkpoint],
        changes: Sequence[RowChange] = (),
        *,
        cleared: Sequence[tuple[str, str, str]] = (),
        snapshots: Sequence[Checkpoint] = (),
    ) -> None:
        for fork, projection, prefix in cleared:
            table = self._writable(fork, projection)
            wanted = prefix.encode()
            for key in [k for k in list(table.keys()) if k != CHECKPOINT_KEY]:
                if key.startswith(wanted):
                    del table[key]
        for change in changes:
            table = self._writable(change.fork, change.projection)
            key = change.key.encode()
            if change.value is None:
                if key in table:
                    del table[key]
                continue
            old = table.get(key)
            seq = decode_row(old)[0] if old is not None else change.seq
            table[key] = encode_row(seq, change.value)
        for cp in checkpoints:  # last: a checkpoint covers the rows written before it
            self._writable(cp.fork, cp.projection)[CHECKPOINT_KEY] = encode_checkpoint(cp)

    def _writable(self, fork: str, projection: str) -> Rows:
        table = self._table(fork, projection)
        if table is None:
            raise KeyError(f"no faust table for {fork}/{projection}")
        return table

    def rows(self, fork: str, projection: str) -> Iterator[tuple[str, bytes, int]]:
        table = self._table(fork, projection)
        if table is None:
            return iter(())
        return iter(rows_in_order(table))

    def get(self, fork: str, projection: str, key: str) -> bytes | None:
        table = self._table(fork, projection)
        raw = table.get(key.encode()) if table is not None else None
        return decode_row(raw)[1] if raw is not None else None

    def scan(
        self, fork: str, projection: str, prefix: str = "", *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        table = self._table(fork, projection)
        if table is None:
            return []
        names = (k.decode() for k in list(table) if k != CHECKPOINT_KEY)
        keys = sorted(k for k in names if k.startswith(prefix) and k > after)
        return [(k, decode_row(table[k.encode()])[1]) for k in keys[:limit]]

    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        return []

    def forks(self) -> list[str]:
        return [FORK] if any(CHECKPOINT_KEY in t for t in self.tables.values()) else []

    def drop(self, fork: str, projections: Sequence[str] | None = None) -> None:
        if fork != FORK:
            return
        for name, table in self.tables.items():
            if projections is None or name in projections:
                for key in list(table.keys()):
                    del table[key]


def rows_in_order(table: Mapping[bytes, bytes]) -> list[tuple[str, bytes, int]]:
    """A table's rows as ``(key, JSON, seq)``, in seq order (the store's ``rows``)."""
    rows = []
    for key, raw in table.items():
        if key != CHECKPOINT_KEY:
            seq, value = decode_row(raw)
            rows.append((key.decode(), value, seq))
    rows.sort(key=lambda row: (row[2], row[0]))
    return rows
