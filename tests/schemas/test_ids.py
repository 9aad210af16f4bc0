import itertools
import time

from selfeng.schemas.ids import derived_id, uuid7, uuid7_time_ms


def test_uuid7_ids_are_version_7_and_strictly_increasing() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert all(i.version == 7 for i in ids)
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert all(a.bytes < b.bytes for a, b in itertools.pairwise(ids))
    assert len(set(ids)) == len(ids)


def test_uuid7_carries_the_time() -> None:
    before = int(time.time() * 1000)
    value = uuid7()
    after = int(time.time() * 1000)
    assert before <= uuid7_time_ms(value) <= after + 1


def test_derived_ids_are_deterministic_and_distinct() -> None:
    assert derived_id("dead-letter", "t/0@1") == derived_id("dead-letter", "t/0@1")
    assert derived_id("dead-letter", "t/0@1") != derived_id("dead-letter", "t/0@2")
