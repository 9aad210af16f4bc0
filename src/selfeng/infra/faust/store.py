"""A projection store whose rows live in faust tables (any bytes-to-bytes mapping, here).

Each projection of the main line is one faust table (so one changelog topic), keyed exactly
like the rows of the embedded store:

- ``{table}/{entry}``: one row of one of the projection's keyed tables
  (``Projection.tables``), as a ``StoredRow``: its ``seq`` (its first-insertion place, which
  some folds rely on), the number of the commit that wrote it, its JSON (none: deleted by
  that commit), and the row as it was before that commit;
- ``@checkpoint``: the rest of the state (the head, as JSON: the whole state of a
  projection without keyed tables) with the log position it covers, the projection's
  version, the log id, the number of records folded and the commit's number.

``ProjectionRunner`` does the folding and decides what changed; this store only writes what
a checkpoint hands it. A commit writes the rows first and the ``@checkpoint`` key last, each
as one changelog message of the table's single partition, in order.

Atomic, though faust sends changelog messages one by one (at-least-once; its exactly-once
mode, Kafka transactions, does not work on tansu): every row a commit writes carries the
commit's number and the row as it was before, and a commit is complete once its
``@checkpoint`` is written. A worker killed in the middle of a commit leaves rows numbered
past the checkpoint's; opening the store puts each back as it was (or deletes it, if it was
new), so the tables are exactly the last complete commit's and the records after it are
folded once. A deletion is written as a row without JSON (so it can be undone) and removed
once its commit is complete. Snapshots are not kept (time travel reads the embedded store);
forks other than ``main`` are not stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace

import orjson

from selfeng.core.positions import position_from_json
from selfeng.core.store import Checkpoint, ProjectionStore, RowChange

CHECKPOINT_KEY = b"@checkpoint"
"""The key of a projection's head and position in its table."""
FORK = "main"
"""The only fork a faust worker folds."""

Rows = MutableMapping[bytes, bytes]
"""One projection's faust table: row keys and ``@checkpoint`` to their encoded values."""


@dataclass(frozen=True)
class StoredRow:
    """One row as a table keeps it."""

    seq: int
    """Its first-insertion place."""
    commit: int
    """The commit that wrote it."""
    value: bytes | None
    """Its JSON; None: that commit deleted it."""
    before: StoredRow | None = None
    """The row before that commit (None: there was none)."""

    def encode(self) -> bytes:
        """``seq commit length\n`` (length -1: deleted), the JSON, then the row before."""
        size = -1 if self.value is None else len(self.value)
        head = b"%d %d %d\n" % (self.seq, self.commit, size)
        kept = self.before.encode() if self.before is not None else b""
        return head + (self.value or b"") + kept

    @classmethod
    def decode(cls, raw: bytes) -> StoredRow:
        """A row from its encoding."""
        line, _, rest = raw.partition(b"\n")
        seq, commit, size = (int(n) for n in line.split(b" "))
        value = None if size < 0 else rest[:size]
        after = rest[max(size, 0) :]
        return cls(seq, commit, value, cls.decode(after) if after else None)


def decode_row(raw: bytes) -> tuple[int, bytes]:
    """``(seq, JSON)`` of an encoded live row."""
    row = StoredRow.decode(raw)
    if row.value is None:
        raise ValueError("a deleted row has no JSON")
    return row.seq, row.value


def encode_checkpoint(cp: Checkpoint, commit: int) -> bytes:
    """A checkpoint as the ``@checkpoint`` value, with its commit's number."""
    return orjson.dumps(
        {
            "log_id": cp.log_id,
            "projection_version": cp.projection_version,
            "position": cp.position.to_json(),
            "events": cp.events,
            "state": orjson.Fragment(cp.state or b"null"),
            "saved_at": cp.saved_at,
            "tables": list(cp.tables),
            "commit": commit,
        }
    )


def checkpoint_commit(raw: bytes | None) -> int:
    """The number of the commit a ``@checkpoint`` value completed (0: none)."""
    return int(orjson.loads(raw).get("commit", 0)) if raw is not None else 0


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


def recover(table: Rows) -> int:
    """Put back what an incomplete commit wrote, and remove deletions already complete;
    the number of the last complete commit."""
    done = checkpoint_commit(table.get(CHECKPOINT_KEY))
    for key in [k for k in list(table.keys()) if k != CHECKPOINT_KEY]:
        row = StoredRow.decode(table[key])
        if row.commit > done:
            if row.before is None or row.before.value is None:
                del table[key]
            else:
                table[key] = row.before.encode()
        elif row.value is None:
            del table[key]
    return done


class TableStore(ProjectionStore):
    """The main line's checkpoints and rows, one mapping (a faust table) per projection."""

    def __init__(self, tables: Mapping[str, Rows], url: str = "faust://") -> None:
        """Opening the store recovers each table (``recover``): inside a faust agent's
        iteration, since it may write."""
        self.url = url
        self.tables = tables
        self._commits = {name: recover(table) for name, table in tables.items()}

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
        numbers: dict[str, int] = {}

        def number(projection: str) -> int:
            if projection not in numbers:
                numbers[projection] = self._commits.get(projection, 0) + 1
            return numbers[projection]

        deleted: list[tuple[str, Rows, bytes]] = []
        for fork, projection, prefix in cleared:
            table = self._writable(fork, projection)
            wanted = prefix.encode()
            for key in [k for k in list(table.keys()) if k != CHECKPOINT_KEY]:
                if key.startswith(wanted) and self._write(table, key, None, 0, number(projection)):
                    deleted.append((projection, table, key))
        for change in changes:
            table = self._writable(change.fork, change.projection)
            key = change.key.encode()
            n = number(change.projection)
            if self._write(table, key, change.value, change.seq, n) and change.value is None:
                deleted.append((change.projection, table, key))
        for cp in checkpoints:  # last: a checkpoint completes the rows written before it
            n = number(cp.projection)
            self._writable(cp.fork, cp.projection)[CHECKPOINT_KEY] = encode_checkpoint(cp, n)
            self._commits[cp.projection] = n
        completed = {cp.projection for cp in checkpoints}
        for projection, table, key in deleted:  # a complete commit's deletions stay done
            if projection not in completed:
                continue
            raw = table.get(key)
            if raw is not None and StoredRow.decode(raw).value is None:
                del table[key]

    def _write(self, table: Rows, key: bytes, value: bytes | None, seq: int, n: int) -> bool:
        """Write one row in commit ``n`` (``value`` None: delete it), keeping the row as the
        last complete commit left it; whether anything was written."""
        raw = table.get(key)
        old = StoredRow.decode(raw) if raw is not None else None
        # the row as the last complete commit left it (this commit may have written it)
        before = old.before if old is not None and old.commit == n else old
        if before is not None and before.value is None:
            before = None
        if before is not None:
            before = replace(before, before=None)
        if value is None:
            if old is None or old.value is None:
                return False
            table[key] = StoredRow(old.seq, n, None, before).encode()
            return True
        place = old.seq if old is not None and old.value is not None else seq
        table[key] = StoredRow(place, n, value, before).encode()
        return True

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
        return StoredRow.decode(raw).value if raw is not None else None

    def scan(
        self, fork: str, projection: str, prefix: str = "", *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        table = self._table(fork, projection)
        if table is None:
            return []
        live = {
            key.decode(): row.value
            for key, raw in list(table.items())
            if key != CHECKPOINT_KEY and (row := StoredRow.decode(raw)).value is not None
        }
        keys = sorted(k for k in live if k.startswith(prefix) and k > after)
        return [(k, live[k]) for k in keys[:limit]]

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
    """A table's live rows as ``(key, JSON, seq)``, in seq order (the store's ``rows``)."""
    rows = []
    for key, raw in table.items():
        if key != CHECKPOINT_KEY:
            row = StoredRow.decode(raw)
            if row.value is not None:
                rows.append((key.decode(), row.value, row.seq))
    rows.sort(key=lambda row: (row[2], row[0]))
    return rows
