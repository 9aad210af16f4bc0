"""Setting up the Kafka log adapter: URL settings, topic names, topic creation, partitioning.

Kept apart from ``selfeng.infra.log.kafka`` so that the adapter module holds the
``EventLog`` behaviour. ``ensure_topics`` talks to the admin client; nothing else here talks
to a broker.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kafka.partitioner.default import murmur2

from selfeng.core.log import LogError

DEFAULT_PARTITIONS = 6
DEFAULT_REPLICATION = 1
DEFAULT_SESSION_TIMEOUT_MS = 10_000
DEFAULT_DEDUPE_WINDOW = 100_000
DEFAULT_DEDUPE_LOOKBACK = 2_000
DEFAULT_STALENESS_MS = 200

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
    "staleness_ms",
)


def default_topics() -> tuple[str, ...]:
    """The logical topics of selfeng (``selfeng.schemas.TOPICS``), imported on demand."""
    from selfeng.schemas.catalogue import TOPICS

    return tuple(TOPICS)


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """What a ``kafka://`` URL says.

    ``kafka://host:port[,host2:port2]?namespace=NS&partitions=6&replication=1
    &session_timeout_ms=10000&transactions=false&dedupe_window=100000&dedupe_lookback=2000
    &staleness_ms=200``
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
    staleness_ms: int = DEFAULT_STALENESS_MS
    """How long a request may be answered from projections that read the log to its end that
    long ago (``EventLog.staleness``); 0 reads every partition before every request."""

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
            staleness_ms=_count(options, "staleness_ms", DEFAULT_STALENESS_MS),
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
            "staleness_ms",
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
