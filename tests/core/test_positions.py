import orjson
import pytest

from selfeng.core.positions import (
    GlobalPosition,
    PartitionPosition,
    parse_position,
    position_from_json,
)
from selfeng.core.records import StoredRecord


def rec(topic: str, partition: int, offset: int) -> StoredRecord:
    return StoredRecord(b"", topic, "k", "T", 1, b"", 0, partition, offset)


def test_global_positions_cover_what_came_before() -> None:
    p = GlobalPosition(5)
    assert p.covers(rec("t", 0, 5))
    assert not p.covers(rec("t", 0, 6))
    assert p.advanced([rec("t", 0, 9), rec("t", 0, 7)]) == GlobalPosition(9)
    assert GlobalPosition(2).events_to(p) == 3
    assert p.earliest(GlobalPosition(3)) == GlobalPosition(3)
    assert p.latest(GlobalPosition(3)) == p


def test_partition_positions_hold_the_next_offset_per_partition() -> None:
    p = PartitionPosition({("a", 0): 3, ("a", 1): 1})
    assert p.covers(rec("a", 0, 2))
    assert not p.covers(rec("a", 0, 3))
    assert not p.covers(rec("b", 0, 0))
    q = p.advanced([rec("a", 0, 3), rec("b", 2, 0)])
    assert q.offsets == {("a", 0): 4, ("a", 1): 1, ("b", 2): 1}
    assert p.events_to(q) == 2
    assert q.is_at_or_after(p)
    assert not p.is_at_or_after(q)
    assert p.earliest(PartitionPosition({("a", 0): 1, ("c", 0): 5})).offsets == {
        ("a", 0): 1,
        ("a", 1): 0,
        ("c", 0): 0,
    }


@pytest.mark.parametrize(
    "position",
    [GlobalPosition(0), GlobalPosition(123), PartitionPosition({("x.y", 0): 4, ("x.y", 11): 9})],
)
def test_positions_round_trip(position: GlobalPosition | PartitionPosition) -> None:
    assert position_from_json(orjson.loads(orjson.dumps(position.to_json()))) == position
    assert parse_position(str(position)) == position


def test_nonsense_positions_are_refused() -> None:
    with pytest.raises(ValueError, match="not a position"):
        parse_position("yesterday")
    with pytest.raises(ValueError, match="not a position"):
        position_from_json({"kind": "sideways"})
