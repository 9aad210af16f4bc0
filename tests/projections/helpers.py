"""Shared builders for projection tests."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable

from selfeng.core.records import NewRecord
from selfeng.schemas import Event, uuid7


def raw_record(type_: str, data: bytes, key: str = "k", topic: str = "selfeng.policy") -> NewRecord:
    """A record with arbitrary bytes, as a foreign or broken producer might write it."""
    return NewRecord(uuid7().bytes, topic, key, type_, 1, data, int(time.time() * 1000))


def interleave(
    stream: list[Event],
    rnd: random.Random,
    by: Callable[[Event], Hashable] = lambda event: event.key,
) -> list[Event]:
    """Another interleaving of keys (or of what ``by`` gives: ``(topic, key)`` for Kafka's
    partitions), each one's own events in their order, as Kafka may deliver them."""
    queues: dict[Hashable, list[Event]] = {}
    for event in stream:
        queues.setdefault(by(event), []).append(event)
    shuffled: list[Event] = []
    while queues:
        key = rnd.choice(sorted(queues, key=repr))
        shuffled.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return shuffled
