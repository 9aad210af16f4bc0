"""The projections folded by a faust-streaming app over a ``kafka://`` log.

Two agents, one app (id ``{namespace}.selfeng-faust``, also its consumer group):

``route``
    reads every topic of the log (all their partitions), turns each message into a
    ``StoredRecord`` exactly as the Kafka log adapter does (``kafka_records.decode``, with
    the dedupe key of ``kafka_records.dedupe_key``) and forwards them, in order, packed
    several to a message (``envelope``), to the fold topic.
``fold``
    reads the fold topic, which has ONE partition, and folds its records through the same
    ``ProjectionRunner`` the embedded engine uses (same decoding, same dead-letter rules,
    same ``apply`` functions, policies readable by the folds that declare it). After each
    message it checkpoints into faust tables (``TableStore``): one table per projection,
    keyed like the embedded store's rows (``{table}/{entry}``) plus ``@checkpoint`` for the
    head and position, each with its changelog topic. A restarted worker recovers the
    tables from their changelogs, reads its position from ``@checkpoint`` and skips what it
    covers; copies of one event (a retried append) are dropped by their event id within a
    window of ``dedupe_window`` ids, as the Kafka log's readers drop them.

Why one partition, not one table partition per source partition. Faust shards a table by
the partition of the event being processed (co-partitioning: a table has as many partitions
as its agent's source topic, and the worker owning source partition ``p`` owns table
partition ``p``). That is sound for a fold whose every row is a function of the records of
one partition only. None of selfeng's projections is such a fold:

- rows keyed by something other than the record's key, fed by many request keys:
  ``registry`` (tools, stats by tool name), ``skill_graph`` (tools, edges), ``patterns``,
  ``plans`` (by request shape), ``sessions`` (by session id), ``cache`` (by prompt),
  ``llm_usage`` (by model and subject);
- global heads: ``events`` (totals, first/last time, per-minute buckets trimmed by the
  newest event of the whole log), ``revision`` counters, ``policies`` (one value per policy
  for the whole log, read by other folds through the fold context);
- global caps: the oldest sessions, plans and cache entries are evicted past a size over
  the whole state.

Sharded by source partition, each of these would hold a per-partition partial fold, and
the sum (or the union, or the eviction) of partials is not the fold of the whole log without
a merge function per projection. So every projection is folded once, globally, by the
single ``fold`` agent: the ``route`` stage is the repartition (a ``group_by`` onto one
partition, done by hand so the Kafka headers, partition and offset are still at hand), and
the tables are co-partitioned with the one-partition fold topic. The fold keeps the order
of each source partition (so of each key), which is all a projection may rely on
(``projections.base``). The price: one worker folds at a time (others stand by for the
partition); the route agents spread over the source partitions. Per-partition sharding is
future work for projections that gain a merge.

Tansu settings (measured, see the team's SERVICES notes): source topics exist before the
worker starts, with the log's partition count (``run_worker`` opens the log, which creates
them; the fold topic is created here with one partition); ``broker_session_timeout`` and
``broker_heartbeat_interval`` from the URL's ``session_timeout_ms`` (use 6000 on tansu, so a
join takes about 3 s); ``producer_max_batch_size=1``, without which a table restored from
its changelog can be silently wrong (tansu answers ListOffsets below the true end when a
batch holds several records, and faust's recovery stops there); the web server off;
at-least-once processing (exactly-once fails on tansu; ``store`` makes each checkpoint
atomic without it: a worker killed in the middle of one leaves nothing counted twice).

Not folded here: forks other than ``main`` (policy experiments stay on the embedded engine),
and dead letters are counted, not appended (the embedded live engine appends them).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import faust
from kafka.admin import KafkaAdminClient

from selfeng.core.closing import Closeable
from selfeng.core.log import RecordBatch
from selfeng.core.positions import Position
from selfeng.core.records import StoredRecord
from selfeng.infra.faust.envelope import pack, unpack
from selfeng.infra.faust.names import FaustNames
from selfeng.infra.faust.read import keys_before, records_between
from selfeng.infra.faust.store import Rows, TableStore
from selfeng.infra.log.kafka import KafkaLog
from selfeng.infra.log.kafka_admin import ensure_topics
from selfeng.infra.log.kafka_dedupe import DedupeWindow
from selfeng.infra.log.kafka_read import partition_position
from selfeng.infra.log.kafka_records import decode, dedupe_key
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import ProjectionFactory, default_projections
from selfeng.projections.runner import ProjectionRunner

logger = logging.getLogger(__name__)

ROUTE_BATCH = 500
"""Records the route agent packs into one fold-topic message at most."""
ROUTE_WITHIN = 0.05
"""Seconds the route agent waits to fill a batch."""


class _Message(NamedTuple):
    """A consumed message as ``kafka_records.decode`` reads it (kafka-python's shape)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    timestamp: int


def as_record(names: FaustNames, message: Any) -> tuple[bytes, StoredRecord]:
    """A faust message of a source topic as ``(dedupe key, record)``, as the log reads it.

    faust gives the timestamp in seconds (a float of aiokafka's milliseconds / 1000).
    """
    seconds = message.timestamp
    plain = _Message(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        tuple(message.headers or ()),
        round(seconds * 1000) if isinstance(seconds, int | float) else 0,
    )
    record = decode(names.topics.to_logical(message.topic), plain)
    return dedupe_key(plain, record), record


@dataclass
class FaustFold:
    """A faust app folding a log's projections, and the fold's in-memory state."""

    app: faust.App
    names: FaustNames
    log: KafkaLog
    factory: ProjectionFactory
    tables: dict[str, Rows]
    seen: DedupeWindow[None]
    """The dedupe keys of the records of the last ``dedupe_window`` folded (or skipped)."""
    runner: ProjectionRunner | None = None
    """The fold, built from the tables on the first message after an assignment."""
    folded: int = 0
    """Records folded by this process (duplicates and covered records not counted)."""
    resumed: set[tuple[str, int]] = field(default_factory=set)
    """Partitions whose first record since the fold was loaded has been checked against the
    fold's position (``_without_gaps``)."""

    def current(self) -> ProjectionRunner:
        """The fold, loaded from the (recovered) tables when there is none yet."""
        if self.runner is None:
            store = TableStore(self.tables)
            self.runner = ProjectionRunner(
                self.log,
                store,
                self.factory(MAIN),
                fork=MAIN,
                checkpoint_every=1 << 62,  # this module checkpoints, after each message
                checkpoint_seconds=float("inf"),
                snapshot_every=1 << 62,
            )
            if self.runner.rebuilt:
                logger.warning("faust fold rebuilt from the log: %s", self.runner.rebuilt)
            for key in keys_before(self.names, self.runner.position):
                self.seen.add(key, None)
            self.resumed.clear()
            logger.info("faust fold loaded from its tables at %s", self.runner.position)
        return self.runner

    def fold_message(self, value: bytes) -> int:
        """Fold one fold-topic message and checkpoint; return the records folded.

        Must run inside the fold agent's iteration (faust writes a table's changelog to the
        partition of the event being processed).
        """
        runner = self.current()
        position = runner.position
        pairs = self._without_gaps(unpack(value), position)
        fresh = []
        for key, record in pairs:
            new = self.seen.add(key, None)
            if new and not position.covers(record):
                fresh.append(record)
        runner.fold(RecordBatch(fresh, position.advanced(r for _, r in pairs)))
        runner.checkpoint()
        self.folded += len(fresh)
        logger.debug("folded %d of %d records (%d in all)", len(fresh), len(pairs), self.folded)
        return len(fresh)

    def _without_gaps(
        self, pairs: list[tuple[bytes, StoredRecord]], position: Position
    ) -> list[tuple[bytes, StoredRecord]]:
        """``pairs``, with the records the route skipped read from the log and put first.

        A partition's records reach the fold in order, so a first record (since the fold was
        loaded) further on than the fold's position in its partition means the records
        between were never routed. That happened on restarts (about one in ten on tansu):
        the route's consumer resumed one offset past the last record it had routed, and the
        first new record was never folded. The fold's own position is the truth, so it reads
        what is missing itself.
        """
        expected = partition_position(position).offsets
        gaps: dict[tuple[str, int], tuple[int, int]] = {}
        for _, record in pairs:
            tp = (record.topic, record.partition)
            if tp in self.resumed:
                continue  # within a run offsets may jump (transaction markers): not a loss
            self.resumed.add(tp)
            next_offset = expected.get(tp, 0)
            if record.offset > next_offset:
                gaps[tp] = (next_offset, record.offset)
        if not gaps:
            return pairs
        missing = records_between(self.names, gaps)
        if missing:
            logger.warning(
                "faust fold: %d records the route skipped, read from the log (%s)",
                len(missing),
                ", ".join(f"{t}/{p}@{a}..{b - 1}" for (t, p), (a, b) in sorted(gaps.items())),
            )
        return [*missing, *pairs]

    def forget(self) -> None:
        """Drop the in-memory fold (partitions moved): the next message reloads it."""
        self.runner = None


def faust_settings(
    names: FaustNames, app_id: str | None = None, datadir: Path | None = None
) -> dict[str, Any]:
    """The faust app settings that work on tansu (and on Apache Kafka). ``datadir`` is
    where faust keeps its app's files (the tables live in memory and their changelogs, so
    nothing there must survive): by default a folder for ``app_id`` in the system's temp
    folder, never the current directory, faust's own default."""
    settings = names.settings
    session = settings.session_timeout_ms / 1000
    folder = datadir or Path(tempfile.gettempdir()) / "selfeng-faust" / (app_id or names.app_id)
    folder.parent.mkdir(parents=True, exist_ok=True)  # faust makes the folder, not its parents
    return {
        "datadir": str(folder),
        "broker": [f"kafka://{host}" for host in settings.bootstrap],
        "store": "memory://",
        "autodiscover": False,
        "web_enabled": False,
        "processing_guarantee": "at_least_once",
        "topic_partitions": 1,
        "topic_replication_factor": settings.replication,
        "table_standby_replicas": 0,
        "broker_session_timeout": session,
        "broker_heartbeat_interval": session / 3,
        "producer_max_batch_size": 1,
        "consumer_auto_offset_reset": "earliest",
        # bytes in, bytes out, for topics and tables alike
        "key_serializer": "raw",
        "value_serializer": "raw",
    }


def build_app(
    url: str,
    factory: ProjectionFactory = default_projections,
    *,
    log: KafkaLog | None = None,
    datadir: Path | None = None,
) -> FaustFold:
    """The faust app folding the projections of ``factory`` over the log at ``url``.

    Opens the log (creating its topics with the URL's partition count, which faust needs
    before it starts) and creates the one-partition fold topic.
    """
    names = FaustNames.from_url(url)
    log = log if log is not None else KafkaLog.from_url(url)
    create_fold_topic(names)
    app = faust.App(names.app_id, **faust_settings(names, names.app_id, datadir))
    sources = app.topic(
        *names.sources(),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    fold_topic = app.topic(
        names.fold_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=1,
        internal=True,
        replicas=names.settings.replication,
    )
    tables: dict[str, Rows] = {}
    for projection in factory(MAIN):
        tables[projection.name] = app.Table(
            projection.name,
            default=None,
            partitions=1,
            key_type=bytes,
            value_type=bytes,
        )
    fold = FaustFold(app, names, log, factory, tables, DedupeWindow(names.settings.dedupe_window))

    async def route(stream: Any) -> None:
        async for events in stream.take_events(ROUTE_BATCH, within=ROUTE_WITHIN):
            pairs = [as_record(names, event.message) for event in events]
            await fold_topic.send(key=b"fold", value=pack(pairs))

    async def fold_agent(stream: Any) -> None:
        async for event in stream.events():
            fold.fold_message(event.value)

    app.agent(sources, name="route")(route)
    app.agent(fold_topic, name="fold")(fold_agent)

    def revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        fold.forget()

    app.on_partitions_revoked.connect(revoked)
    return fold


def create_fold_topic(names: FaustNames) -> None:
    """Create the fold topic with one partition (a broker would auto-create it with its own
    default count: 4 on tansu)."""
    admin = KafkaAdminClient(bootstrap_servers=list(names.settings.bootstrap))
    try:
        ensure_topics(admin, [names.fold_topic], 1, names.settings.replication)
    finally:
        admin.close()


def run_worker(
    url: str,
    factory: ProjectionFactory = default_projections,
    *,
    loglevel: str = "warning",
    datadir: Path | None = None,
) -> None:
    """Run a faust worker folding the log at ``url`` until it is stopped (SIGINT, SIGTERM).

    Never returns: faust's worker exits the process when it stops.
    """
    fold = build_app(url, factory, datadir=datadir)
    run_app(fold.app, loglevel=loglevel, closing=fold.log)


def run_app(app: faust.App, *, loglevel: str, closing: Closeable) -> None:
    """Run a faust app's worker in this process until it is stopped; then close
    ``closing``. Never returns: faust's worker exits the process when it stops."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    try:
        worker.execute_from_commandline()
    finally:
        closing.close()
