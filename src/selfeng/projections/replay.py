"""Replay and time travel: rebuild projections from the log and compare with live state.

The one rule says every piece of state is a fold of the log; ``verify`` checks it: it folds
the log again from position 0 (or from a snapshot) up to the live state's position and
compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from selfeng.core.log import EventLog
from selfeng.core.positions import Position
from selfeng.core.progress import Progress
from selfeng.core.store import Checkpoint, ProjectionStore
from selfeng.projections.base import ForkSpec
from selfeng.projections.catalog import ProjectionFactory
from selfeng.projections.engine import ProjectionEngine
from selfeng.projections.runner import ProjectionRunner


@dataclass
class ReplayResult:
    """How a rebuilt projection compares with the live one."""

    projection: str
    position: str
    live_events: int
    replayed_events: int
    differences: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """Whether the rebuilt state equals the live state."""
        return not self.differences


def rebuild(
    log: EventLog,
    factory: ProjectionFactory,
    fork: ForkSpec,
    *,
    until: Position | None = None,
    seed: Iterable[Checkpoint] = (),
    progress: Progress | None = None,
) -> ProjectionRunner:
    """Fold a fork's projections in memory from position 0 (or ``seed``) to ``until``."""
    runner = ProjectionRunner(log, None, factory(fork), fork=fork, seed=seed)
    runner.catch_up(until=until, progress=progress)
    return runner


def snapshots_covered_by(
    store: ProjectionStore, fork: str, names: Iterable[str], at: Position | None, log_id: str
) -> list[Checkpoint]:
    """For each projection, its newest snapshot at or before ``at`` (any, if None)."""
    chosen = []
    for name in names:
        usable = [
            s
            for s in store.snapshots(fork, name)
            if s.log_id == log_id and (at is None or at.is_at_or_after(s.position))
        ]
        if usable:
            chosen.append(usable[-1])
    return chosen


def verify(
    engine: ProjectionEngine,
    fork_name: str = "main",
    *,
    from_snapshot: bool = False,
    progress: Progress | None = None,
) -> list[ReplayResult]:
    """Rebuild a fork's projections and compare each with its live, stored state."""
    fork = engine.fork(fork_name)
    live = engine.runner(fork)
    discarded = dict(live.rebuilt)
    live.catch_up()
    seed: list[Checkpoint] = []
    if from_snapshot:
        seed = snapshots_covered_by(
            engine.store, fork.name, live.names(), live.position, engine.log.log_id
        )
    replayed = rebuild(
        engine.log, engine.factory, fork, until=live.position, seed=seed, progress=progress
    )
    return [
        ReplayResult(
            projection=name,
            position=str(live.position),
            live_events=live.events_applied(name),
            replayed_events=replayed.events_applied(name),
            differences=(
                [f"the stored state was discarded and rebuilt: {discarded[name]}"]
                if name in discarded
                else json_differences(live.dumped(name), replayed.dumped(name))
            ),
        )
        for name in live.names()
    ]


def state_at(
    engine: ProjectionEngine,
    projection: str,
    at: Position,
    fork_name: str = "main",
    progress: Progress | None = None,
) -> Any:
    """A projection's state as of a log position, folded from the nearest earlier snapshot."""
    fork = engine.fork(fork_name)
    names = [p.name for p in engine.factory(fork)]
    if projection not in names:
        raise KeyError(f"no projection {projection!r}; there are {', '.join(names)}")
    seed = snapshots_covered_by(engine.store, fork.name, names, at, engine.log.log_id)
    return rebuild(engine.log, engine.factory, fork, until=at, seed=seed, progress=progress).dumped(
        projection
    )


def json_differences(a: Any, b: Any, path: str = "$", limit: int = 20) -> list[str]:
    """Paths where two JSON-able values differ (at most ``limit``), empty when equal."""
    out: list[str] = []
    _diff(orjson.loads(orjson.dumps(a)), orjson.loads(orjson.dumps(b)), path, out, limit)
    return out


def _diff(a: Any, b: Any, path: str, out: list[str], limit: int) -> None:
    if len(out) >= limit or a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}.{k}: only in the replay")
            elif k not in b:
                out.append(f"{path}.{k}: only in the live state")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out, limit)
            if len(out) >= limit:
                return
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out, limit)
    else:
        out.append(f"{path}: live {_short(a)} != replay {_short(b)}")


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."
