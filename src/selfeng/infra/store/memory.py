"""``memory://``: an in-process projection store for tests and throw-away rebuilds."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from selfeng.core.store import Checkpoint, ProjectionStore


class MemoryStore(ProjectionStore):
    """Checkpoints in a dict."""

    def __init__(self, url: str = "memory://", keep_snapshots: int = 10) -> None:
        self.url = url
        self._keep = keep_snapshots
        self._latest: dict[tuple[str, str], Checkpoint] = {}
        self._snapshots: dict[tuple[str, str], list[Checkpoint]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """A new, empty store."""
        return cls(url)

    def load(self, fork: str, projection: str) -> Checkpoint | None:
        return self._latest.get((fork, projection))

    def save(self, checkpoints: Sequence[Checkpoint], *, snapshot: bool = False) -> None:
        with self._lock:
            for cp in checkpoints:
                self._latest[(cp.fork, cp.projection)] = cp
                if snapshot:
                    kept = self._snapshots.setdefault((cp.fork, cp.projection), [])
                    kept.append(cp)
                    del kept[: -self._keep]

    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        return list(self._snapshots.get((fork, projection), ()))

    def forks(self) -> list[str]:
        return sorted({fork for fork, _ in self._latest})

    def drop(self, fork: str) -> None:
        with self._lock:
            for table in (self._latest, self._snapshots):
                for k in [k for k in table if k[0] == fork]:
                    del table[k]
