"""``memory://``: an in-process projection store for tests and throw-away rebuilds."""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterator, Sequence

from selfeng.core.store import Checkpoint, ProjectionStore, RowChange, refuse_going_back

_Rows = dict[str, tuple[int, bytes]]  # key -> (seq, value)


class MemoryStore(ProjectionStore):
    """Checkpoints and rows in dicts."""

    def __init__(self, url: str = "memory://", keep_snapshots: int = 10) -> None:
        self.url = url
        self._keep = keep_snapshots
        self._latest: dict[tuple[str, str], Checkpoint] = {}
        self._rows: dict[tuple[str, str], _Rows] = {}
        self._snapshots: dict[tuple[str, str], list[Checkpoint]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """A new, empty store."""
        return cls(url)

    def load(self, fork: str, projection: str) -> Checkpoint | None:
        return self._latest.get((fork, projection))

    def commit(
        self,
        checkpoints: Sequence[Checkpoint],
        changes: Sequence[RowChange] = (),
        *,
        cleared: Sequence[tuple[str, str, str]] = (),
        snapshots: Sequence[Checkpoint] = (),
    ) -> None:
        with self._lock:
            refuse_going_back(
                (
                    (cp.fork, cp.projection, cp.log_id, cp.position)
                    for cp in (self._latest.get((c.fork, c.projection)) for c in checkpoints)
                    if cp is not None
                ),
                checkpoints,
            )
            # plain dict operations, which cannot fail part-way
            for fork, projection, prefix in cleared:
                rows = self._rows.setdefault((fork, projection), {})
                for key in [k for k in rows if k.startswith(prefix)]:
                    del rows[key]
            for change in changes:
                rows = self._rows.setdefault((change.fork, change.projection), {})
                if change.value is None:
                    rows.pop(change.key, None)
                else:
                    seq = rows[change.key][0] if change.key in rows else change.seq
                    rows[change.key] = (seq, change.value)
            for cp in checkpoints:
                self._latest[(cp.fork, cp.projection)] = cp
            for cp in snapshots:
                kept = self._snapshots.setdefault((cp.fork, cp.projection), [])
                kept.append(cp)
                del kept[: -self._keep]

    def rows(self, fork: str, projection: str) -> Iterator[tuple[str, bytes, int]]:
        rows = self._rows.get((fork, projection), {})
        ordered = sorted(rows.items(), key=lambda kv: (kv[1][0], kv[0]))
        return iter([(key, value, seq) for key, (seq, value) in ordered])

    def get(self, fork: str, projection: str, key: str) -> bytes | None:
        row = self._rows.get((fork, projection), {}).get(key)
        return row[1] if row else None

    def scan(
        self, fork: str, projection: str, prefix: str = "", *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        rows = self._rows.get((fork, projection), {})
        keys = sorted(k for k in rows if k.startswith(prefix))
        start = bisect_right(keys, after) if after else 0
        return [(k, rows[k][1]) for k in keys[start : start + limit]]

    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        return list(self._snapshots.get((fork, projection), ()))

    def forks(self) -> list[str]:
        return sorted({fork for fork, _ in self._latest})

    def drop(self, fork: str, projections: Sequence[str] | None = None) -> None:
        with self._lock:
            for table in (self._latest, self._rows, self._snapshots):
                for k in [k for k in table if k[0] == fork]:
                    if projections is None or k[1] in projections:
                        del table[k]
