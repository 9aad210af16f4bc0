"""A projection's slot in a runner: its state, position and fold, loaded from its checkpoint.

A slot starts from the projection's checkpoint (or a seed) when that checkpoint was folded
from the same log by the same version of the projection and can be read; otherwise from
the projection's initial state, and the runner notes why it rebuilds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from selfeng.core.log import EventLog
from selfeng.core.positions import Position
from selfeng.core.records import StoredRecord
from selfeng.core.store import Checkpoint, ProjectionStore
from selfeng.projections.base import AnyProjection, FoldContext, ForkSpec, Projection
from selfeng.projections.tables import TableSet, assemble
from selfeng.schemas import Event


@dataclass
class Slot:
    projection: AnyProjection
    state: Any
    position: Position
    events: int
    types: frozenset[str]  # the event types it decodes; empty for a record projection
    ctx: FoldContext  # the fork's context, policies readable only if the projection says so
    on_record: Callable[[Any, StoredRecord, FoldContext], Any] | None = None
    on_event: Callable[[Any, Event, FoldContext], Any] | None = None
    on_unarmed: Callable[[Any, Event, FoldContext], Any] | None = None  # the same fold, for
    # an event of no policy arm: the arm gate's call skipped (every such event passes it)
    on_records: Callable[[Any, Sequence[StoredRecord], FoldContext], Any] | None = None
    tables: TableSet | None = None  # its keyed tables, when a store keeps them as rows


def load_slot(
    projection: AnyProjection,
    seed: Checkpoint | None,
    *,
    log: EventLog,
    store: ProjectionStore | None,
    fork: ForkSpec,
    ctx: FoldContext,
    fresh: bool = False,
) -> tuple[Slot, str]:
    """A projection's slot, from ``seed``, its checkpoint in ``store`` or its initial
    state; and why its stored state was discarded ("" if it was not). ``fresh`` starts from
    the initial state whatever is stored (its stored rows are replaced at the next
    checkpoint)."""
    tables = None
    if store is not None and isinstance(projection, Projection) and projection.tables:
        tables = TableSet(projection.tables)
    slot, reason = _initial_slot(
        projection, seed, tables, ctx, log=log, store=None if fresh else store, fork=fork
    )
    if isinstance(projection, Projection):
        slot.types = projection.type_names()
        slot.on_event = slot.on_unarmed = projection.apply
    else:
        slot.on_record, slot.on_records = projection.apply, projection.apply_batch
    return slot, reason


def _initial_slot(
    projection: AnyProjection,
    seed: Checkpoint | None,
    tables: TableSet | None,
    ctx: FoldContext,
    *,
    log: EventLog,
    store: ProjectionStore | None,
    fork: ForkSpec,
) -> tuple[Slot, str]:
    cp = seed
    if cp is None and store is not None:
        cp = store.load(fork.name, projection.name)
    if cp is None:
        reason = ""
    elif cp.log_id != log.log_id:
        reason = f"it was folded from another log ({cp.log_id})"
    elif cp.projection_version != projection.version:
        reason = f"it is from version {cp.projection_version} of the projection"
    else:
        try:
            state = _read_state(projection, cp, tables, store=store, fork=fork)
            slot = Slot(projection, state, cp.position, cp.events, frozenset(), ctx, tables=tables)
            return slot, ""
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            reason = f"it cannot be read ({type(exc).__name__}: {exc})"
    state = projection.initial()
    if tables is not None:
        tables.clear_all = True  # rows of an earlier fold, if any, are not this state's
        tables.install(state)
    return Slot(projection, state, log.start(), 0, frozenset(), ctx, tables=tables), reason


def _read_state(
    projection: AnyProjection,
    cp: Checkpoint,
    tables: TableSet | None,
    *,
    store: ProjectionStore | None,
    fork: ForkSpec,
) -> Any:
    """A checkpoint's state, its rows put back (a whole state saved before the
    projection had tables is kept, and written as rows at the next checkpoint)."""
    data = orjson.loads(cp.state)
    if tables is None or not cp.tables:
        state = projection.load(data)
        if tables is not None:
            tables.clear_all = True
            tables.install(state)
        return state
    if set(cp.tables) != set(tables.names):
        raise ValueError(f"its rows are of tables {', '.join(cp.tables)}")
    assert store is not None
    rows = store.rows(fork.name, projection.name)
    data, tables.next_seq = assemble(data, rows, tables.names)
    state = projection.load(data)
    tables.install(state, clean=True)
    return state
