import pytest

from selfeng.core.mapper import decode
from selfeng.schemas import PolicyChanged
from selfeng.schemas.upcasting import UpcastError, upcast

SEED_V1 = (
    b'{"type": "PolicyChanged", "schema_version": 1, "key": "retrieval.threshold",'
    b' "policy": "retrieval.threshold", "value": 0.55}'
)


def test_a_v1_policy_change_is_upcast_to_v2() -> None:
    event = decode(SEED_V1)
    assert isinstance(event, PolicyChanged)
    assert event.schema_version == 2
    assert event.name == "retrieval.threshold"
    assert event.value == 0.55
    assert event.reason == ""


def test_upcast_walks_the_chain_and_stamps_the_version() -> None:
    raw = upcast({"type": "PolicyChanged", "schema_version": 1, "policy": "p", "value": 1})
    assert raw["schema_version"] == 2
    assert raw["name"] == "p"
    assert "policy" not in raw


def test_a_newer_version_than_known_is_refused_with_a_reason() -> None:
    with pytest.raises(UpcastError, match="newer than this selfeng knows"):
        upcast({"type": "PolicyChanged", "schema_version": 9, "name": "p", "value": 1})


def test_a_broken_v1_event_says_which_step_failed() -> None:
    with pytest.raises(UpcastError, match="v1 -> v2 failed"):
        upcast({"type": "PolicyChanged", "schema_version": 1, "value": 1})
