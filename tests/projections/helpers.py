"""Shared builders for projection tests."""

from __future__ import annotations

import time

from selfeng.core.records import NewRecord
from selfeng.schemas import uuid7


def raw_record(type_: str, data: bytes, key: str = "k", topic: str = "selfeng.policy") -> NewRecord:
    """A record with arbitrary bytes, as a foreign or broken producer might write it."""
    return NewRecord(uuid7().bytes, topic, key, type_, 1, data, int(time.time() * 1000))
