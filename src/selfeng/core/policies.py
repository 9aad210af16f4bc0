"""The policies and their defaults: the knobs the learners and the request path read.

A policy's current value is a fold of PolicyChanged events over these defaults (see
``selfeng.projections.policies``); forks pin other values to compare them.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    JsonValue,
    StrictBool,
    TypeAdapter,
    ValidationError,
)

_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def _not_bool(value: object) -> object:
    """A number policy refuses true and false (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true or false")
    return value


_Number = BeforeValidator(_not_bool)
Probability = Annotated[float, Field(ge=0.0, le=1.0), _Number]


def _at_most(limit: int | float, low: int | float = 1) -> Any:
    """A number from ``low`` to ``limit``: every policy has bounds, so no value can make a
    component fail (a sandbox timeout of 3,000,000 s overflows a timer)."""
    if isinstance(limit, int) and isinstance(low, int):
        return Annotated[int, Field(ge=low, le=limit), _Number]
    return Annotated[int | float, Field(gt=0, le=limit), _Number]


@dataclass(frozen=True)
class PolicySpec:
    """One policy: its name, default, accepted values and meaning."""

    name: str
    default: JsonValue
    type: TypeAdapter[Any]
    description: str

    def validate(self, value: JsonValue) -> JsonValue:
        """The value in canonical form; raises ValueError saying what is accepted."""
        try:
            checked: JsonValue = self.type.dump_python(
                self.type.validate_python(value), mode="json"
            )
        except ValidationError as exc:
            msg = exc.errors(include_url=False)[0]["msg"]
            raise ValueError(f"{self.name}: {value!r} is not accepted ({msg})") from exc
        return checked


WEIGHT_NAMES: Final[tuple[str, ...]] = ("similarity", "success_rate", "frequency")
"""The terms of ``retrieval.weights``; a value names each of them, once."""


def _complete_weights(weights: dict[str, float]) -> dict[str, float]:
    """Weights name every term (and nothing else) and sum to 1 (within 1e-9)."""
    missing = [name for name in WEIGHT_NAMES if name not in weights]
    unknown = sorted(set(weights) - set(WEIGHT_NAMES))
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else []
        )
        raise ValueError(
            f"weights must name {', '.join(WEIGHT_NAMES)} and nothing else ({'; '.join(parts)})"
        )
    total = math.fsum(weights.values())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1, not {total:g}")
    return {name: weights[name] for name in WEIGHT_NAMES}


_weights = TypeAdapter(
    Annotated[
        dict[str, Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]],
        AfterValidator(_complete_weights),
    ]
)


def _spec(name: str, default: JsonValue, typ: Any, description: str) -> PolicySpec:
    adapter = typ if isinstance(typ, TypeAdapter) else TypeAdapter(typ)
    return PolicySpec(name, default, adapter, description)


POLICIES: Final[dict[str, PolicySpec]] = {
    spec.name: spec
    for spec in (
        _spec(
            "retrieval.threshold",
            0.2,
            Probability,
            "Minimum search score for a tool to be weighed as a candidate (the evidence, "
            "``answer.min_confidence``, decides whether it answers).",
        ),
        _spec(
            "retrieval.rerank",
            True,
            StrictBool,
            "Re-rank search results by similarity, success rate and frequency.",
        ),
        _spec(
            "retrieval.weights",
            {"similarity": 1.0, "success_rate": 0.0, "frequency": 0.0},
            _weights,
            "Kept for compatibility: search ranks by similarity to a tool's document and its "
            "confirmed uses (weighed by retrieval.use_weight and retrieval.nearest_use); "
            "success rate and frequency are not added to it.",
        ),
        _spec(
            "retrieval.use_weight",
            0.5,
            Probability,
            "How much the words of a tool's confirmed uses count in its search document, "
            "against the words of its name, description and parameters (weight 1).",
        ),
        _spec(
            "retrieval.nearest_use",
            0.9,
            Probability,
            "The similarity a request gets from repeating a tool's nearest confirmed use word "
            "for word (a request scores the larger of this, times its resemblance to that "
            "use, and its similarity to the tool's whole document).",
        ),
        _spec("retrieval.top_k", 5, _at_most(100), "Candidates kept by a search."),
        _spec(
            "answer.min_confidence",
            0.75,
            Probability,
            "Confidence a tool and its arguments need before their result is given as an "
            "answer (the share of the request they account for); below it the request is "
            "abstained on honestly.",
        ),
        _spec(
            "llm.max_tools",
            32,
            _at_most(1024),
            "Tools offered to the LLM as functions when it plans a request (the best matches).",
        ),
        _spec(
            "learning.min_confidence",
            0.95,
            Probability,
            "Confidence above which what an answer teaches (phrasing, success, pattern) is "
            "learnt without waiting for a user's rating; a bad rating still takes it back.",
        ),
        _spec(
            "composite.min_frequency",
            3,
            _at_most(10**9),
            "Completed requests a tool sequence needs before it may become a composite.",
        ),
        _spec(
            "composite.min_success_rate",
            0.8,
            Probability,
            "Share of those requests that must have succeeded.",
        ),
        _spec(
            "composite.min_confidence",
            0.7,
            Probability,
            "How often the sequence's last tool must follow the ones before it.",
        ),
        _spec(
            "cache.ttl_seconds",
            3600,
            _at_most(10 * 365 * 86400.0),
            "How long a deterministic tool's result stays in the execution cache.",
        ),
        _spec(
            "cost.max_tokens_per_request",
            8000,
            _at_most(10_000_000),
            "LLM tokens one request may spend.",
        ),
        _spec(
            "cost.max_llm_calls_per_request", 6, _at_most(1000), "LLM calls one request may make."
        ),
        _spec(
            "cost.max_synthesis_attempts",
            3,
            _at_most(100),
            "Attempts to write a tool that passes its tests before giving up.",
        ),
        _spec(
            "sandbox.timeout_seconds", 10.0, _at_most(3600.0), "Wall-clock limit of one tool run."
        ),
        _spec("sandbox.memory_mb", 256, _at_most(65536, low=16), "Memory limit of one tool run."),
        _spec(
            "repair.deprecate_failure_rate",
            0.5,
            Probability,
            "Failure rate above which a tool that cannot be repaired is deprecated.",
        ),
        _spec(
            "tuning.every_requests",
            0,
            _at_most(10**9, low=0),
            "Completed requests between two rounds of the auto-tuner (0: it is off). Each "
            "round replays past requests under candidate values and starts an experiment "
            "for the best, if it is estimated to be better.",
        ),
        _spec(
            "tuning.window",
            200,
            _at_most(100_000, low=10),
            "Past requests the auto-tuner answers again for each candidate value.",
        ),
        _spec(
            "tuning.min_improvement",
            0.01,
            Probability,
            "Estimated gain (success rate minus twice the wrong rate) a candidate needs "
            "before the auto-tuner puts it to a live experiment.",
        ),
        _spec(
            "repair.min_executions",
            5,
            _at_most(10**9),
            "Executions a tool needs before its failure rate is judged.",
        ),
    )
}
"""Every known policy, by name."""


def default_values() -> dict[str, JsonValue]:
    """The default value of every known policy."""
    return {name: spec.default for name, spec in POLICIES.items()}


def policy_float(policies: Mapping[str, JsonValue], name: str) -> float:
    """A numeric policy's value, as a float.

    Raises KeyError for a policy with no value and TypeError for one whose value is not a
    number (known policies are checked when they are set, so only a user's own can be).
    """
    value = policies[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"policy {name} is {value!r}, not a number")
    return float(value)


def policy_int(policies: Mapping[str, JsonValue], name: str) -> int:
    """A whole-number policy's value (see ``policy_float``; a float with a fraction is
    refused, not truncated)."""
    value = policy_float(policies, name)
    if not value.is_integer():
        raise TypeError(f"policy {name} is {value!r}, not a whole number")
    return int(value)


NAMESPACES: Final[frozenset[str]] = frozenset(name.split(".")[0] for name in POLICIES)
"""The namespaces of the known policies (``retrieval``, ``cache``, ...)."""


def validate_policy(name: str, value: JsonValue) -> JsonValue:
    """Check a value for a policy: a known policy's value must be of its type and within its
    bounds; a name in a known policy's namespace that is no known policy is refused (a typo
    such as ``retrieval.treshold``), and so is a name with no namespace; names in other
    namespaces (``team.mode``) are users' own components' policies, kept as they are."""
    spec = POLICIES.get(name)
    if spec is not None:
        return spec.validate(value)
    if not name or len(name) > 200 or not _NAME.fullmatch(name):
        raise ValueError(f"{name[:60]!r} is not a policy name: use dotted words, such as team.mode")
    if "." not in name:
        close = difflib.get_close_matches(name, POLICIES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ValueError(
            f"{name}: no such policy; {hint}(a component's own policy is namespaced, such as "
            "team.mode; `selfeng policy list` shows selfeng's)"
        )
    if name.split(".")[0] in NAMESPACES:
        close = difflib.get_close_matches(name, POLICIES, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(f"{name}: no such policy{hint} (`selfeng policy list` shows them)")
    return value


def parse_policy_assignment(text: str) -> tuple[str, JsonValue]:
    """Parse ``name=value`` where value is JSON (``0.5``, ``true``, ``{"a": 1}``) or a bare word."""
    import orjson

    name, eq, raw = text.partition("=")
    if not eq or not name.strip():
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    try:
        value: JsonValue = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    name = name.strip()
    return name, validate_policy(name, value)
