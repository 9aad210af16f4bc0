"""The projection store port: where folded state and its log position are kept together.

State and position are saved in one transaction, so a process killed at any moment resumes
from a checkpoint whose state is exactly the fold of the log up to its position: nothing is
lost and nothing is counted twice. Everything in a store can be thrown away and rebuilt by
replaying the log.

A projection with keyed tables (``selfeng.projections.tables``) keeps each table entry as a
row, keyed ``{table}/{entry}``; its checkpoint holds the rest of the state (the head) and the
position. ``commit`` writes a save's checkpoints and changed rows in one transaction, so a
checkpoint costs the rows that changed, not the whole state; ``get`` and ``scan`` read rows
as of the last commit. The position in a checkpoint is the tracking record: the offset
reached in every topic-partition (``Position``), committed with the rows it accounts for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import orjson

from selfeng.core.closing import Closeable
from selfeng.core.positions import Position, position_from_json


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One projection's state in one fork, as of a log position."""

    fork: str
    """The fork (``main`` for the live policy values)."""
    projection: str
    """The projection's name."""
    log_id: str
    """The log the state was folded from (``EventLog.log_id``)."""
    projection_version: int
    """The version of the projection's code that built the state (a change forces a rebuild)."""
    position: Position
    """The log position the state covers."""
    events: int
    """How many records the fold has applied (for progress and for people)."""
    state: bytes
    """The state, as JSON."""
    saved_at: float
    """Unix time of the save."""
    tables: tuple[str, ...] = ()
    """The parts of the state kept as rows (``state`` then holds the rest); empty when
    ``state`` is the whole state."""


@dataclass(frozen=True, slots=True)
class RowChange:
    """One row of a projection's tables written or deleted."""

    fork: str
    projection: str
    key: str
    """``{table}/{entry}``."""
    value: bytes | None
    """The row as JSON, or None to delete it."""
    seq: int = 0
    """The row's place in its projection's order, taken when it is first inserted (an
    update keeps the place the row has)."""


CheckpointRow = tuple[str, str, str, int, str, int, bytes, float, str]
"""A checkpoint as SQL stores keep it: fork, projection, log id, projection version,
position (JSON), events, state, saved at, tables (comma-separated)."""


def checkpoint_rows(checkpoints: Sequence[Checkpoint]) -> list[CheckpointRow]:
    """The rows of a save; a position shared by several checkpoints is encoded once (the
    projections of one runner usually share theirs)."""
    encoded: dict[Position, str] = {}
    rows = []
    for cp in checkpoints:
        position = encoded.get(cp.position)
        if position is None:
            position = encoded[cp.position] = orjson.dumps(cp.position.to_json()).decode()
        rows.append(
            (
                cp.fork,
                cp.projection,
                cp.log_id,
                cp.projection_version,
                position,
                cp.events,
                cp.state,
                cp.saved_at,
                ",".join(cp.tables),
            )
        )
    return rows


class CheckpointBehind(RuntimeError):
    """Another process sharing the store has saved a further position of a projection; this
    save, of an earlier one, is refused whole (nothing is written). The log still holds
    everything: the saver keeps folding and saves once it is as far."""


def refuse_going_back(
    stored: Iterable[tuple[str, str, str, str | Position]], checkpoints: Sequence[Checkpoint]
) -> None:
    """Raise CheckpointBehind when a checkpoint would move a stored position back.

    ``stored``: (fork, projection, log id, position, as JSON text or decoded) of the saved
    checkpoints. Rows are saved only where they changed, so a save behind another process's
    would pair that process's later rows with an earlier position, and the events between
    would be counted twice; a save at or past every stored position is exact.
    """
    new = {(cp.fork, cp.projection): cp for cp in checkpoints}
    ahead: dict[tuple[str | Position, Position], bool] = {}  # a save's share a position or two
    for fork, projection, log_id, position in stored:
        cp = new.get((fork, projection))
        if cp is None or cp.log_id != log_id:
            continue
        verdict = ahead.get((position, cp.position))
        if verdict is None:
            verdict = ahead[(position, cp.position)] = cp.position.is_at_or_after(
                _decoded(position)
            )
        if not verdict:
            raise CheckpointBehind(
                f"{fork}/{projection} is saved at {_decoded(position)}, past {cp.position}: "
                "another process folds the same projections further"
            )


def _decoded(position: str | Position) -> Position:
    return (
        position if isinstance(position, Position) else position_from_json(orjson.loads(position))
    )


RowValues = tuple[str, str, str, int, bytes]
"""A row write as SQL stores bind it: fork, projection, key, seq, value."""
RowKey = tuple[str, str, str]
"""A row delete as SQL stores bind it: fork, projection, key."""


def change_runs(
    changes: Sequence[RowChange],
) -> Iterator[tuple[list[RowKey], list[RowValues]]]:
    """Row changes in order, as alternating runs: deletes, or writes (one of the two lists
    is empty), so each run is one ``executemany``."""
    start = 0
    while start < len(changes):
        deleting = changes[start].value is None
        end = start + 1
        while end < len(changes) and (changes[end].value is None) == deleting:
            end += 1
        run = changes[start:end]
        if deleting:
            yield [(c.fork, c.projection, c.key) for c in run], []
        else:
            yield [], [(c.fork, c.projection, c.key, c.seq, c.value or b"") for c in run]
        start = end


def key_bound(prefix: str) -> str:
    """A key greater than every key that starts with ``prefix`` (for range scans)."""
    return prefix + "\U0010ffff" * 2


class ProjectionStore(Closeable, ABC):
    """Checkpoints (the latest state per fork and projection) and a history of snapshots."""

    url: str
    """Where the store is."""

    @abstractmethod
    def load(self, fork: str, projection: str) -> Checkpoint | None:
        """The latest checkpoint, or None when the projection was never saved in the fork."""

    def save(self, checkpoints: Sequence[Checkpoint], *, snapshot: bool = False) -> None:
        """Save whole-state checkpoints atomically (all or none).

        With ``snapshot`` each is also kept in the snapshot history, from which time travel
        and replays start instead of from position 0.
        """
        self.commit(checkpoints, snapshots=checkpoints if snapshot else ())

    @abstractmethod
    def commit(
        self,
        checkpoints: Sequence[Checkpoint],
        changes: Sequence[RowChange] = (),
        *,
        cleared: Sequence[tuple[str, str, str]] = (),
        snapshots: Sequence[Checkpoint] = (),
    ) -> None:
        """In one transaction: delete the rows under each ``(fork, projection, key prefix)``
        of ``cleared``, apply ``changes`` in order, save ``checkpoints`` and add ``snapshots``
        (whole states) to the snapshot history.

        Raises CheckpointBehind, writing nothing, when a checkpoint's position is behind the
        one stored for its projection (``refuse_going_back``).
        """

    @abstractmethod
    def rows(self, fork: str, projection: str) -> Iterator[tuple[str, bytes, int]]:
        """Every row of a projection in a fork, as (key, value, seq), in ``seq`` order."""

    @abstractmethod
    def get(self, fork: str, projection: str, key: str) -> bytes | None:
        """One row's value, or None."""

    @abstractmethod
    def scan(
        self, fork: str, projection: str, prefix: str = "", *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        """Up to ``limit`` rows whose keys start with ``prefix``, in key order, after the
        key ``after`` (the last key of the previous page)."""

    @abstractmethod
    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        """The kept snapshots, oldest first."""

    @abstractmethod
    def forks(self) -> list[str]:
        """The forks that have anything stored."""

    @abstractmethod
    def drop(self, fork: str, projections: Sequence[str] | None = None) -> None:
        """Delete every checkpoint, row and snapshot of a fork (or only of ``projections``)."""

    def versions(self) -> dict[str, str]:
        """What the store runs on, and its versions (for ``selfeng doctor``)."""
        return {}

    def close(self) -> None:
        """Release connections."""
