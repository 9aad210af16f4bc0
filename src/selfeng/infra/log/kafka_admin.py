"""Plumbing of the Kafka log adapter: URL settings, topics, partitioning, codec, scanning.

Kept apart from ``selfeng.infra.log.kafka`` so that the adapter module holds the
``EventLog`` behaviour. ``ensure_topics`` talks to the admin client and ``Scan`` drives an
assigned consumer; nothing else here talks to a broker.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import orjson
from kafka.errors import OffsetOutOfRangeError
from kafka.partitioner.default import murmur2
from kafka.structs import TopicPartition

from selfeng.core.log import LogError
from selfeng.core.records import NewRecord, StoredRecord

V = TypeVar("V")

DEFAULT_PARTITIONS = 6
DEFAULT_REPLICATION = 1
DEFAULT_SESSION_TIMEOUT_MS = 10_000
DEFAULT_DEDUPE_WINDOW = 100_000
DEFAULT_DEDUPE_LOOKBACK = 2_000
STALL_SECONDS = 30.0
"""A read that makes no progress this long fails (the broker stopped answering)."""
COMMITTED_STALL_SECONDS = 2.0
"""With transactions, a read stuck this long below the high watermark ends there: the rest
belongs to a transaction that is still open."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_OPTIONS = (
    "namespace",
    "partitions",
    "replication",
    "session_timeout_ms",
    "transactions",
    "dedupe_window",
    "dedupe_lookback",
)


def default_topics() -> tuple[str, ...]:
    """The logical topics of selfeng (``selfeng.schemas.TOPICS``), imported on demand."""
    from selfeng.schemas.catalogue import TOPICS

    return tuple(TOPICS)


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """What a ``kafka://`` URL says.

    ``kafka://host:port[,host2:port2]?namespace=NS&partitions=6&replication=1
    &session_timeout_ms=10000&transactions=false&dedupe_window=100000&dedupe_lookback=2000``
    """

    bootstrap: tuple[str, ...]
    """``host:port`` of the brokers to bootstrap from."""
    namespace: str = ""
    """Prefix of the physical topic and group names (``NS.selfeng.requests``); none by default."""
    partitions: int = DEFAULT_PARTITIONS
    """Partitions of each topic the adapter creates."""
    replication: int = DEFAULT_REPLICATION
    """Replication factor of each topic the adapter creates."""
    session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS
    """Consumer-group session timeout; heartbeats go every third of it."""
    transactions: bool = False
    """Append each batch in a Kafka transaction; readers then read committed records only."""
    dedupe_window: int = DEFAULT_DEDUPE_WINDOW
    """How many event ids each reader (and the appender) remembers to drop duplicates."""
    dedupe_lookback: int = DEFAULT_DEDUPE_LOOKBACK
    """How many records before its start a process re-reads in each partition, once, to
    remember their ids: a copy of one of them after the start is then not delivered again."""

    @classmethod
    def from_url(cls, url: str) -> KafkaSettings:
        """Parse a ``kafka://`` URL; unknown or malformed options raise ValueError."""
        parts = urlsplit(url)
        if parts.scheme != "kafka":
            raise ValueError(f"not a kafka URL: {url!r}")
        hosts = tuple(h.strip() for h in parts.netloc.split(",") if h.strip())
        if not hosts:
            raise ValueError(f"a kafka URL names its brokers: kafka://host:port, not {url!r}")
        for host in hosts:
            name, colon, port = host.rpartition(":")
            if not (colon and name and port.isdigit()):
                raise ValueError(f"broker {host!r} in {url!r} is not host:port")
        raw = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(raw) - set(_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown kafka URL option(s) {', '.join(unknown)} in {url!r}; "
                f"known: {', '.join(_OPTIONS)}"
            )
        options = {k: v[-1] for k, v in raw.items()}
        namespace = options.get("namespace", "").strip(".")
        transactions_text = options.get("transactions", "false").lower()
        if transactions_text not in _TRUE | _FALSE:
            raise ValueError(f"transactions must be true or false, not {transactions_text!r}")
        return cls(
            bootstrap=hosts,
            namespace=namespace,
            partitions=_positive(options, "partitions", DEFAULT_PARTITIONS),
            replication=_positive(options, "replication", DEFAULT_REPLICATION),
            session_timeout_ms=_positive(options, "session_timeout_ms", DEFAULT_SESSION_TIMEOUT_MS),
            transactions=transactions_text in _TRUE,
            dedupe_window=_positive(options, "dedupe_window", DEFAULT_DEDUPE_WINDOW),
            dedupe_lookback=_count(options, "dedupe_lookback", DEFAULT_DEDUPE_LOOKBACK),
        )

    def to_url(self) -> str:
        """The canonical URL of these settings."""
        query = [f"namespace={self.namespace}"] if self.namespace else []
        defaults = KafkaSettings(self.bootstrap)
        names = (
            "partitions",
            "replication",
            "session_timeout_ms",
            "dedupe_window",
            "dedupe_lookback",
        )
        for name in names:
            if getattr(self, name) != getattr(defaults, name):
                query.append(f"{name}={getattr(self, name)}")
        if self.transactions:
            query.append("transactions=true")
        return f"kafka://{','.join(self.bootstrap)}" + (f"?{'&'.join(query)}" if query else "")


def _count(options: Mapping[str, str], name: str, default: int) -> int:
    text = options.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise ValueError(f"kafka URL option {name} must be a whole number, not {text!r}")
    return int(text)


def _positive(options: Mapping[str, str], name: str, default: int) -> int:
    text = options.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"kafka URL option {name} must be a positive integer, not {text!r}")
    return int(text)


class TopicNames:
    """Logical topic names (``selfeng.requests``) and their physical, namespaced names."""

    def __init__(self, logical: Iterable[str], namespace: str = "") -> None:
        self.logical: tuple[str, ...] = tuple(dict.fromkeys(logical))
        if not self.logical:
            raise ValueError("a Kafka log needs at least one topic")
        self.namespace = namespace
        self._physical = {t: f"{namespace}.{t}" if namespace else t for t in self.logical}
        self._logical = {p: t for t, p in self._physical.items()}

    def physical(self, logical: str) -> str:
        """The broker's name of a logical topic."""
        try:
            return self._physical[logical]
        except KeyError:
            raise ValueError(
                f"unknown topic {logical!r}; this log has {', '.join(self.logical)}"
            ) from None

    def to_logical(self, physical: str) -> str:
        """The logical name of a broker topic."""
        return self._logical[physical]

    def select(self, topics: Iterable[str] | None) -> tuple[str, ...]:
        """The logical topics a ``topics=`` filter selects (unknown names select nothing)."""
        if topics is None:
            return self.logical
        wanted = set(topics)
        return tuple(t for t in self.logical if t in wanted)

    def group(self, name: str) -> str:
        """The broker's name of a consumer group."""
        return f"{self.namespace}.{name}" if self.namespace else name


def ensure_topics(
    admin: Any, physical: Sequence[str], partitions: int, replication: int
) -> dict[str, int]:
    """Create the topics that do not exist yet; return each topic's actual partition count.

    Topics are created explicitly because a broker that auto-creates topics would give them
    its own default partition count (4 on tansu). A topic that exists already keeps its own.
    """
    spec = {t: {"num_partitions": partitions, "replication_factor": replication} for t in physical}
    result = admin.create_topics(spec, raise_errors=False)
    for topic in result.get("topics", ()):
        code = topic.get("error_code", 0)
        if code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS
            raise LogError(
                f"cannot create Kafka topic {topic.get('name')!r}: error {code} "
                f"({topic.get('error_message') or 'no message'})"
            )
    counts: dict[str, int] = {}
    for topic in admin.describe_topics(list(physical)):
        if topic.get("error_code", 0) != 0 or not topic.get("partitions"):
            raise LogError(
                f"Kafka topic {topic.get('name')!r} is not available after creating it "
                f"(error {topic.get('error_code')})"
            )
        counts[topic["name"]] = len(topic["partitions"])
    missing = sorted(set(physical) - set(counts))
    if missing:
        raise LogError(f"the broker does not describe the Kafka topics {missing}")
    return counts


@functools.lru_cache(maxsize=65536)
def _key_hash(key: str) -> int:
    h: int = murmur2(key.encode("utf-8"))
    return h & 0x7FFFFFFF


def partition_for(key: str, partitions: int) -> int:
    """The partition of ``key``: murmur2 of its UTF-8 bytes, as Kafka's Java clients compute it."""
    return _key_hash(key) % partitions


class DedupeWindow(Generic[V]):
    """The last ``size`` event ids seen, each with a value (first in, first out)."""

    __slots__ = ("_items", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, V] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, event_id: bytes) -> V | None:
        """The value stored with ``event_id``, if it is in the window."""
        return self._items.get(event_id)

    def add(self, event_id: bytes, value: V) -> bool:
        """Remember ``event_id``; False when it was already in the window (kept as it was)."""
        items = self._items
        if event_id in items:
            return False
        items[event_id] = value
        if len(items) > self.size:
            items.popitem(last=False)
        return True


Location = tuple[str, int, int]
"""Where a record is: (logical topic, partition, offset)."""


def record_headers(record: NewRecord) -> list[tuple[str, bytes]]:
    """The Kafka headers that carry a record's type, schema version and event id."""
    return [
        ("type", record.type.encode("utf-8")),
        ("schema_version", str(record.version).encode("ascii")),
        ("event_id", record.event_id),
    ]


def stored(record: NewRecord, partition: int, offset: int) -> StoredRecord:
    """``record`` as stored at ``partition``/``offset``."""
    return StoredRecord(
        record.event_id,
        record.topic,
        record.key,
        record.type,
        record.version,
        record.data,
        record.timestamp_ms,
        partition,
        offset,
    )


def decode(topic: str, message: Any) -> StoredRecord:
    """A record from a consumed Kafka message of logical ``topic``; never raises.

    Messages written by this adapter carry ``type``, ``schema_version`` and ``event_id``
    headers. For a message from a foreign client the missing fields come from its JSON value
    when it parses, else type ``""``, version 0 and an event id derived from where the
    message is, so that the consumer of records can dead-letter it rather than lose it.
    """
    headers: dict[str, bytes] = {}
    for name, value in message.headers or ():
        headers[name] = value
    type_raw = headers.get("type")
    version_raw = headers.get("schema_version")
    event_id = headers.get("event_id")
    data: bytes = message.value if message.value is not None else b""
    key_raw: bytes | None = message.key
    key = key_raw.decode("utf-8", "replace") if key_raw is not None else None
    record_type: str | None = None
    version: int | None = None
    if type_raw is not None:
        try:
            record_type = type_raw.decode("utf-8")
        except UnicodeDecodeError:
            record_type = None
    if version_raw is not None:
        try:
            version = int(version_raw)
        except ValueError:
            version = None
    if event_id is not None and len(event_id) != 16:
        event_id = None
    if record_type is None or version is None or event_id is None or key is None:
        body = _json_object(data)
        if record_type is None:
            value = body.get("type")
            record_type = value if isinstance(value, str) else ""
        if version is None:
            value = body.get("schema_version")
            version = value if isinstance(value, int) and not isinstance(value, bool) else 0
        if event_id is None:
            event_id = _uuid_bytes(body.get("event_id"))
        if event_id is None:
            from selfeng.schemas.ids import derived_id

            event_id = derived_id("kafka", topic, str(message.partition), str(message.offset)).bytes
        if key is None:
            value = body.get("key")
            key = value if isinstance(value, str) else ""
    timestamp = message.timestamp if isinstance(message.timestamp, int) else 0
    return StoredRecord(
        event_id,
        topic,
        key,
        record_type,
        version,
        data,
        timestamp,
        message.partition,
        message.offset,
    )


def dedupe_key(message: Any, record: StoredRecord) -> bytes:
    """What readers deduplicate ``record`` on: its event id when a header carries it.

    A record whose id comes only from its body (a foreign client's, or one derived from
    where it is) is unverified until the consumer of records decodes it: a bad record must
    not suppress a later valid one that carries the same id. So its key is the id plus a
    digest of its bytes, and it is a duplicate only of an identical record (a client's
    retry), never of a record with other content.
    """
    for name, value in message.headers or ():
        if name == "event_id" and len(value) == 16:
            return record.event_id
    return record.event_id + hashlib.blake2b(record.data, digest_size=8).digest()


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _uuid_bytes(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value).bytes
    except ValueError:
        return None


class Scan:
    """One assigned consumer reading partitions from given offsets to their end.

    The end of a partition is its high watermark at the first fetch (or ``bounds``, when
    lower). Offsets of transaction markers and other gaps are skipped using the consumer's
    own position.
    """

    def __init__(
        self,
        consumer: Any,
        starts: Mapping[TopicPartition, int],
        bounds: Mapping[TopicPartition, int] | None,
        isolation: str,
    ) -> None:
        self._consumer = consumer
        self._committed = isolation == "read_committed"
        self.next: dict[TopicPartition, int] = dict(starts)
        self._limit: dict[TopicPartition, int | None] = {
            tp: bounds.get(tp) if bounds is not None else None for tp in starts
        }
        self._end: dict[TopicPartition, int | None] = dict.fromkeys(starts)
        self._active = set(starts)
        self._progress = time.monotonic()
        if not starts:
            return
        consumer.assign(list(starts))
        done = []
        for tp, offset in starts.items():
            limit = self._limit[tp]
            if limit is not None and offset >= limit:
                done.append(tp)
            consumer.seek(tp, offset)
        self._finish(done)

    @property
    def finished(self) -> bool:
        """Whether every partition is read to its end."""
        return not self._active

    def _finish(self, tps: Iterable[TopicPartition]) -> None:
        tps = [tp for tp in tps if tp in self._active]
        if tps:
            self._active.difference_update(tps)
            self._consumer.pause(*tps)

    def poll(self, max_records: int, timeout_ms: int = 10) -> list[Any]:
        """The next messages (at most ``max_records``) before the ends, in partition order."""
        if not self._active:
            return []
        got = self._consumer.poll(timeout_ms=timeout_ms, max_records=max(1, max_records))
        out: list[Any] = []
        moved: set[TopicPartition] = set()
        for tp, messages in got.items():
            if tp not in self._active:
                continue
            stop = self._stop(tp)
            nxt = self.next[tp]
            for m in messages:
                if m.offset < nxt:
                    continue  # from before a seek
                if stop is not None and m.offset >= stop:
                    break
                out.append(m)
                nxt = m.offset + 1
            if nxt != self.next[tp]:
                self.next[tp] = nxt
                moved.add(tp)
        finished = []
        for tp in list(self._active):
            if self._end[tp] is None:
                end = self._end[tp] = self._consumer.highwater(tp)
                if end is not None and self.next[tp] > end:
                    raise OffsetOutOfRangeError(
                        f"{tp.topic}/{tp.partition} ends at {end}, the read starts at "
                        f"{self.next[tp]}"
                    )
            stop = self._stop(tp)
            if stop is None or self._end[tp] is None:
                continue
            if self.next[tp] < stop and tp not in moved:
                # Transaction markers occupy offsets and yield no message: the consumer's
                # position is past them.
                position = self._consumer.position(tp, timeout_ms=1000)
                if position is not None and position > self.next[tp]:
                    self.next[tp] = min(position, stop)
                    moved.add(tp)
            if self.next[tp] >= stop:
                finished.append(tp)
        self._finish(finished)
        now = time.monotonic()
        if moved or finished:
            self._progress = now
        elif now - self._progress > (COMMITTED_STALL_SECONDS if self._committed else STALL_SECONDS):
            stuck = sorted(f"{tp.topic}/{tp.partition}@{self.next[tp]}" for tp in self._active)
            if self._committed and all(self._end[tp] is not None for tp in self._active):
                # The rest is an open transaction: not in the log yet as of this read.
                self._finish(list(self._active))
            else:
                raise LogError(f"reading from Kafka made no progress at {', '.join(stuck)}")
        return out

    def _stop(self, tp: TopicPartition) -> int | None:
        end, limit = self._end[tp], self._limit[tp]
        if end is None:
            return limit
        return end if limit is None else min(end, limit)
