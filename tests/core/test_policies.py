import re

import pytest
from pydantic import JsonValue, ValidationError

from selfeng.core.policies import (
    POLICIES,
    default_values,
    parse_policy_assignment,
    policy_float,
    policy_int,
    validate_policy,
)
from selfeng.core.sandbox import Limits
from selfeng.schemas import ForkCreated


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


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("sandbox.timeout_seconds", 3_000_000, "less than or equal to 3600"),
        ("sandbox.memory_mb", 10**9, "less than or equal"),
        ("retrieval.top_k", 10**6, "less than or equal"),
        ("retrieval.treshold", 0.2, "did you mean retrieval.threshold"),
        ("../../evil", 1, "not a policy name"),
        ("x" * 5000, 1, "not a policy name"),
        ("", 1, "not a policy name"),
    ],
)
def test_every_policy_has_bounds_and_typos_are_refused(
    name: str, value: JsonValue, words: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        validate_policy(name, value)


def test_a_sandbox_clamps_the_limits_it_is_given() -> None:
    limits = Limits(timeout_s=3e6, cpu_s=float("nan"), memory_mb=10**9, processes=0)
    assert (limits.timeout_s, limits.cpu_s) == (3600.0, 3600.0)
    assert (limits.memory_mb, limits.processes) == (65536, 1)
    assert Limits() == Limits(timeout_s=10.0, memory_mb=256)


@pytest.mark.parametrize("name", ["", "../../evil", "a" * 65, "-x", "a b"])
def test_a_fork_name_is_never_a_path_nor_empty(name: str) -> None:
    with pytest.raises(ValidationError):
        ForkCreated(fork=name)
    assert ForkCreated(fork="lenient-0.3").fork == "lenient-0.3"


def test_numeric_policies_are_read_as_numbers_or_refused_by_name() -> None:
    values: dict[str, JsonValue] = {"a.x": 0.25, "a.n": 3, "a.whole": 4.0, "a.s": "x", "a.b": True}
    assert policy_float(values, "a.x") == 0.25
    assert policy_float(values, "a.n") == 3.0
    assert policy_int(values, "a.whole") == 4
    for name in ("a.s", "a.b"):
        with pytest.raises(TypeError, match=name):
            policy_float(values, name)
    with pytest.raises(TypeError, match="whole number"):
        policy_int(values, "a.x")
    with pytest.raises(KeyError):
        policy_float(values, "a.missing")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"similarity": 0.7, "success_rate": 0.2}, "missing frequency"),
        ({"similarity": 0.7, "success_rate": 0.2, "frequency": 0.2}, "sum to 1"),
        ({"similarity": 0.5, "success_rate": 0.5, "frequency": 0, "x": 0}, "unknown x"),
        ({"similarity": 1.5, "success_rate": -0.5, "frequency": 0}, "less than or equal to 1"),
        ([1, 0, 0], "valid dictionary"),
    ],
)
def test_weights_are_complete_and_sum_to_one(value: JsonValue, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        validate_policy("retrieval.weights", value)


def test_weights_within_rounding_are_accepted_in_canonical_order() -> None:
    third = 1 / 3
    value: JsonValue = {"frequency": third, "similarity": third, "success_rate": third}
    checked = validate_policy("retrieval.weights", value)
    assert isinstance(checked, dict)
    assert list(checked) == ["similarity", "success_rate", "frequency"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("retrieval.threshold", True),
        ("retrieval.top_k", False),
        ("retrieval.rerank", "yes"),
        ("retrieval.rerank", 1),
        ("cache.ttl_seconds", "soon"),
        ("retrieval.threshold", float("nan")),
    ],
)
def test_values_of_the_wrong_type_are_refused(name: str, value: JsonValue) -> None:
    with pytest.raises(ValueError, match=re.escape(name)):
        validate_policy(name, value)


def test_negative_values_parse_as_values() -> None:
    assert parse_policy_assignment("team.offset=-1") == ("team.offset", -1)
    assert parse_policy_assignment("team.flag=--x") == ("team.flag", "--x")
    with pytest.raises(ValueError, match="greater than"):
        parse_policy_assignment("cache.ttl_seconds=-5")


def test_a_name_without_a_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="namespaced"):
        validate_policy("nosuch", 1)
    with pytest.raises(ValueError, match="did you mean"):
        validate_policy("threshold", 0.3)
