"""What a tool is found by: the document tool search indexes for each active tool.

A tool's document is its own fields (name, description, parameters), the phrasings of its
confirmed uses and the phrasings users rejected it for, as the registry keeps them
(:mod:`selfeng.projections.registry`); :class:`selfeng.consumers.search.ToolSearch` builds
its index from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, cast

from selfeng.core.search_documents import Document, strip_placeholders
from selfeng.projections.registry import RegistryState, VersionRecord

MAX_USES: Final[int] = 1_000
"""Confirmed phrasings a tool is indexed with at most; past it, a representative choice
(:func:`representative`): every phrasing that brings a word the others lack first."""

MAX_REJECTED: Final[int] = 1_000
"""Rejected phrasings a tool is indexed with at most (the most rejected, then the newest)."""

_WORD = re.compile(r"[^\W\d_]+")

Phrasings = Mapping[str, list[int]]
"""Phrasing template -> [count, last seen ms, ...], as the registry keeps them."""


def representative(phrases: Phrasings, cap: int = MAX_USES) -> tuple[str, ...]:
    """A tool's confirmed phrasings as indexed: placeholders stripped, duplicates merged,
    and past ``cap`` a representative choice rather than the newest or the most used alone.

    Most used first (then newest), a phrasing is kept when it brings a word none kept so far
    has; the slots left go to the rest in the same order. So a rare but distinct phrasing
    survives any number of variants of a common one. Sorted, for a stable fingerprint.
    """
    merged: dict[str, list[int]] = {}
    for phrasing, seen in phrases.items():
        text = strip_placeholders(phrasing)
        if not text or not seen:
            continue
        known = merged.setdefault(text, [0, 0])
        known[0] += seen[0]
        known[1] = max(known[1], seen[1] if len(seen) > 1 else 0)
    if len(merged) <= cap:
        return tuple(sorted(merged))
    ordered = sorted(merged, key=lambda t: (-merged[t][0], -merged[t][1], t))
    kept: list[str] = []
    covered: set[str] = set()
    rest: list[str] = []
    for text in ordered:
        words = set(_WORD.findall(text))
        if len(kept) < cap and not words <= covered:
            kept.append(text)
            covered |= words
        else:
            rest.append(text)
    kept += rest[: cap - len(kept)]
    return tuple(sorted(kept))


def tool_fields(name: str, record: VersionRecord) -> tuple[tuple[str, float], ...]:
    """A tool's own fields: its name's words, its description, and its parameters' names and
    descriptions, each of weight 1."""
    spec = record["spec"]
    parameters: list[str] = []
    for param, schema in spec.get("parameters", {}).get("properties", {}).items():
        parameters.append(param.replace("_", " "))
        if isinstance(schema, dict) and schema.get("description"):
            parameters.append(str(schema["description"]))
    return (
        (name.replace("_", " "), 1.0),
        (str(spec.get("description", "")), 1.0),
        ("\n".join(parameters), 1.0),
    )


def tool_document(
    name: str,
    record: VersionRecord,
    phrases: Phrasings,
    rejected: Phrasings,
    *,
    max_uses: int = MAX_USES,
    fields: tuple[tuple[str, float], ...] | None = None,
) -> Document:
    """What a tool is found by: its fields (:func:`tool_fields`, unless given), its confirmed
    phrasings (:func:`representative`) and the phrasings it was rejected for (the most
    rejected, then the newest, at most ``MAX_REJECTED``)."""
    worst = sorted(rejected, key=lambda t: (-rejected[t][0], -rejected[t][-1], t))
    return Document(
        fields=fields if fields is not None else tool_fields(name, record),
        uses=representative(phrases, max_uses),
        rejected=tuple(sorted(worst[:MAX_REJECTED])),
    )


def rejected_phrasings(registry: RegistryState) -> Mapping[str, Phrasings]:
    """The phrasings users rejected a tool for in an answer of that one step:
    ``registry["rejected"]`` (tool -> phrasing template -> [count, last seen ms, count as
    the only step]) kept to the rejections that blame the tool alone. A bad rating of a
    several-step answer does not say which step was wrong: it keeps the same request from
    the same answer (the request handler excludes the exact phrasing) without lowering each
    of its tools for similar requests. Empty for a registry that keeps none."""
    found = cast(Mapping[str, Any], registry).get("rejected") or {}
    sole: dict[str, Phrasings] = {}
    for tool, phrasings in found.items():
        blamed = {
            p: seen
            for p, seen in phrasings.items()
            if seen[0] > 0 and (len(seen) < 3 or seen[2] > 0)
        }
        if blamed:
            sole[tool] = blamed
    return sole
