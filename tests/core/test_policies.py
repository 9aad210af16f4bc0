import pytest

from selfeng.core.policies import POLICIES, default_values, parse_policy_assignment, validate_policy


def test_the_defaults_of_the_design() -> None:
    values = default_values()
    assert values["retrieval.threshold"] == 0.2
    assert values["retrieval.rerank"] is True
    assert values["retrieval.weights"] == {"similarity": 1.0, "success_rate": 0.0, "frequency": 0.0}
    assert values["answer.min_confidence"] == 0.75
    assert values["learning.min_confidence"] == 0.95
    assert values["composite.min_frequency"] == 3
    assert values["composite.min_success_rate"] == 0.8
    assert values["composite.min_confidence"] == 0.7
    assert values["cache.ttl_seconds"] == 3600
    assert {
        "cost.max_tokens_per_request",
        "cost.max_llm_calls_per_request",
        "cost.max_synthesis_attempts",
    } <= set(values)
    assert all(spec.description for spec in POLICIES.values())


def test_values_are_checked_against_the_policy() -> None:
    assert validate_policy("retrieval.threshold", "0.5") == 0.5
    with pytest.raises(ValueError, match=r"retrieval\.threshold"):
        validate_policy("retrieval.threshold", 1.5)
    with pytest.raises(ValueError, match=r"composite\.min_frequency"):
        validate_policy("composite.min_frequency", 0)
    assert validate_policy("my.own.policy", [1, 2]) == [1, 2]


def test_assignments_parse_json_or_words() -> None:
    assert parse_policy_assignment("retrieval.threshold=0.3") == ("retrieval.threshold", 0.3)
    assert parse_policy_assignment("retrieval.rerank=false") == ("retrieval.rerank", False)
    assert parse_policy_assignment("team.mode=fast") == ("team.mode", "fast")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_policy_assignment("retrieval.threshold")
