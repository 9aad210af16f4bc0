"""The projection store port: where folded state and its log position are kept together.

State and position are saved in one transaction, so a process killed at any moment resumes
from a checkpoint whose state is exactly the fold of the log up to its position: nothing is
lost and nothing is counted twice. Everything in a store can be thrown away and rebuilt by
replaying the log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from selfeng.core.closing import Closeable
from selfeng.core.positions import Position


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


CheckpointRow = tuple[str, str, str, int, str, int, bytes, float]
"""A checkpoint as SQL stores keep it: fork, projection, log id, projection version,
position (JSON), events, state, saved at."""


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
            )
        )
    return rows


class ProjectionStore(Closeable, ABC):
    """Checkpoints (the latest state per fork and projection) and a history of snapshots."""

    url: str
    """Where the store is."""

    @abstractmethod
    def load(self, fork: str, projection: str) -> Checkpoint | None:
        """The latest checkpoint, or None when the projection was never saved in the fork."""

    @abstractmethod
    def save(self, checkpoints: Sequence[Checkpoint], *, snapshot: bool = False) -> None:
        """Save checkpoints atomically (all or none).

        With ``snapshot`` each is also kept in the snapshot history, from which time travel
        and replays start instead of from position 0.
        """

    @abstractmethod
    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        """The kept snapshots, oldest first."""

    @abstractmethod
    def forks(self) -> list[str]:
        """The forks that have anything stored."""

    @abstractmethod
    def drop(self, fork: str) -> None:
        """Delete every checkpoint and snapshot of a fork."""

    def versions(self) -> dict[str, str]:
        """What the store runs on, and its versions (for ``selfeng doctor``)."""
        return {}

    def close(self) -> None:
        """Release connections."""
