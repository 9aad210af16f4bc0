"""What a projection is: a deterministic fold of the log, plus how its state is stored.

``apply(state, event, ctx) -> state`` does no I/O and reads no clock: everything it may
consult besides the event comes from ``ctx`` (the policy values in force in its fork), so
replaying the log gives the same state every time. ``apply`` may update the state it is
given in place and return it; the runner owns that state and nothing else sees it mid-fold.

Folds may rely on the order of events within one key and on nothing more: on Kafka,
events of different keys interleave arbitrarily.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import JsonValue

from selfeng.core.records import StoredRecord
from selfeng.schemas import Event

S = TypeVar("S")


@dataclass(frozen=True)
class ForkSpec:
    """Which copy of the projections: ``main`` (the live policy values) or a named fork."""

    name: str = "main"
    """The fork's name."""
    policies: Mapping[str, JsonValue] = field(default_factory=dict)
    """Policy values pinned in this fork."""


MAIN = ForkSpec()
"""The live projections, under the policy values the log says."""


class FoldContext:
    """What a fold may consult besides the event: its fork and the policy values in force."""

    def __init__(
        self, fork: ForkSpec, lookup: Callable[[str], JsonValue], reader: str | None = None
    ) -> None:
        self.fork = fork
        self._lookup = lookup
        self._reader = reader

    def policy(self, name: str) -> JsonValue:
        """The value of a policy in force at this point of the log (in this fork).

        Raises KeyError for a policy that has no value, and UndeclaredPolicyRead when the
        projection folding did not declare ``reads_policies``.
        """
        if self._reader is not None:
            raise UndeclaredPolicyRead(
                f"projection {self._reader!r} reads policy {name!r}: set reads_policies = True "
                "on its class, so forks fold it with their own policy values"
            )
        return self._lookup(name)

    def for_projection(self, projection: AnyProjection) -> FoldContext:
        """The context a projection folds with: policies readable only if it says it reads them."""
        if projection.reads_policies:
            return self
        return FoldContext(self.fork, self._lookup, reader=projection.name)


class UndeclaredPolicyRead(RuntimeError):
    """A fold read a policy without declaring ``reads_policies``."""


class Projection(ABC, Generic[S]):
    """A fold over typed events of the types in ``handles``; others are never decoded."""

    name: ClassVar[str]
    """Stable name; the key its state is stored under."""
    version: ClassVar[int] = 1
    """Bump when ``apply`` changes meaning: stored state of another version is rebuilt."""
    handles: ClassVar[tuple[type[Event], ...]]
    """The event classes this fold reads."""
    reads_policies: ClassVar[bool] = False
    """Whether the fold reads ``ctx.policy`` (or otherwise depends on its fork). A fork folds
    only such projections and reads every other from the main line, whose state it shares;
    a fold that reads a policy without saying so is stopped with a clear error."""
    arm_scoped: ClassVar[bool] = False
    """Whether the fold learns from answers (phrasings, stats, the cache, ...): then every
    fork folds its own copy, and what a request served by one arm teaches stays in that arm's
    fork until its experiment promotes it (:mod:`.arms`)."""
    armed_only: ClassVar[frozenset[str]] = frozenset()
    """Types of ``handles`` whose events this fold reads only when they carry a policy arm
    (an event of the main line changes nothing): the fold loop passes over the others
    without a call."""
    tables: ClassVar[tuple[str, ...]] = ()
    """Top-level maps of the state kept as keyed rows (``selfeng.projections.tables``): a
    checkpoint writes only the rows a fold changed. The state must then be a dict whose
    ``dump`` and ``load`` keep those maps as they are."""

    @abstractmethod
    def initial(self) -> S:
        """The state before any event."""

    @abstractmethod
    def apply(self, state: S, event: Event, ctx: FoldContext) -> S:
        """The state after ``event``."""

    def dump(self, state: S) -> Any:
        """The state as JSON-able data (the default assumes it already is)."""
        return state

    def load(self, data: Any) -> S:
        """The state from ``dump``'s output."""
        return data  # type: ignore[no-any-return]

    @classmethod
    def type_names(cls) -> frozenset[str]:
        """The type names of ``handles``."""
        return frozenset(c.model_fields["type"].default for c in cls.handles)


class RecordProjection(ABC, Generic[S]):
    """A fold over raw log records (type, topic, key, time) that never decodes payloads.

    For counting and throughput: it sees every record, valid or not, at no decoding cost.
    """

    name: ClassVar[str]
    """Stable name; the key its state is stored under."""
    reads_policies: ClassVar[bool] = False
    """As ``Projection.reads_policies``."""
    arm_scoped: ClassVar[bool] = False
    """As ``Projection.arm_scoped`` (a record fold sees every arm's records: always False)."""
    version: ClassVar[int] = 1
    """Bump when ``apply`` changes meaning."""

    @abstractmethod
    def initial(self) -> S:
        """The state before any record."""

    @abstractmethod
    def apply(self, state: S, record: StoredRecord, ctx: FoldContext) -> S:
        """The state after ``record``."""

    def apply_batch(self, state: S, records: Sequence[StoredRecord], ctx: FoldContext) -> S:
        """The state after ``records``, in order: what the fold loop calls once per batch
        (override it where one loop over a batch is cheaper than a call per record)."""
        for record in records:
            state = self.apply(state, record, ctx)
        return state

    def dump(self, state: S) -> Any:
        """The state as JSON-able data."""
        return state

    def load(self, data: Any) -> S:
        """The state from ``dump``'s output."""
        return data  # type: ignore[no-any-return]


AnyProjection = Projection[Any] | RecordProjection[Any]
"""Either kind of projection."""


def add_ms(total: float, more: float) -> float:
    """``total + more`` for sums of milliseconds that must not depend on the order they are
    folded in (Kafka interleaves partitions differently from run to run): added as whole
    microseconds, so every order gives the same float."""
    return (round(total * 1000) + round(more * 1000)) / 1000
