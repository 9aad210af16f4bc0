import pytest
from pydantic import ValidationError

from selfeng.schemas import (
    CURRENT_VERSION,
    EVENT_ADAPTER,
    EVENT_TYPES,
    TOPIC_OF_TYPE,
    TOPICS,
    DeadLetter,
    ToolProposed,
    ToolSpec,
)

DESIGN_FAMILIES = {
    "selfeng.requests": {
        "RequestReceived",
        "ToolSearched",
        "ArgumentsExtracted",
        "ToolExecuted",
        "CacheHit",
        "ResponseSynthesized",
        "RequestCompleted",
        "FeedbackGiven",
        "FeedbackApplied",
    },
    "selfeng.tools": {
        "ToolSynthesisRequested",
        "ToolProposed",
        "ToolVerified",
        "ToolRejected",
        "ToolRegistered",
        "ToolDeprecated",
        "ToolRolledBack",
    },
    "selfeng.learning": {
        "PatternDetected",
        "CompositeProposed",
        "CompositeRegistered",
        "FailureAnalyzed",
        "RepairProposed",
        "ToolRepaired",
        "LLMCalled",
    },
    "selfeng.policy": {
        "PolicyChanged",
        "PolicyRolledBack",
        "ForkCreated",
        "ForkDropped",
        "ExperimentStarted",
        "ExperimentConcluded",
        "TokenCreated",
        "TokenRevoked",
    },
    "selfeng.deadletter": {"DeadLetter"},
}


def test_every_family_of_the_design_is_in_the_catalogue() -> None:
    for topic, names in DESIGN_FAMILIES.items():
        assert {n for n, t in TOPIC_OF_TYPE.items() if t == topic} == names
    assert set(TOPICS) == set(DESIGN_FAMILIES)
    assert set(CURRENT_VERSION) == set(EVENT_TYPES)


def test_the_adapter_decodes_any_event_to_its_class() -> None:
    event = ToolProposed(
        tool="percent",
        version=1,
        spec=ToolSpec(description="x% of y"),
        code="def percent(x, y): return x * y / 100",
        tests="",
        origin="seed",
    )
    decoded = EVENT_ADAPTER.validate_json(event.model_dump_json())
    assert isinstance(decoded, ToolProposed)
    assert decoded == event


def test_bytes_survive_json_as_base64() -> None:
    letter = DeadLetter(source="publish:x", error="invalid_json", reason="r", raw=b"\xff\x00{")
    assert EVENT_ADAPTER.validate_json(letter.model_dump_json()) == letter


def test_an_unknown_type_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_python({"type": "Nope", "key": "k"})
