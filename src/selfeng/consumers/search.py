"""Tool search for the request path: similarity from the index, re-ranked by policy.

The candidates are the registry's active tools; each one's retrieval document is its name,
description, parameter descriptions and the phrasings learnt from successful requests. The
score is ``w_sim * similarity + w_succ * success_rate + w_freq * frequency`` with the
``retrieval.weights`` policy when ``retrieval.rerank`` is on (similarity alone when it is
off), cut at ``retrieval.threshold`` and kept to ``retrieval.top_k``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from selfeng.core.embedder import Embedder
from selfeng.core.planning import tool_vocabulary
from selfeng.core.search import ToolIndex
from selfeng.projections.registry import (
    RegistryState,
    VersionRecord,
    VersionStats,
    active_tools,
    stats_of,
    success_rate,
)
from selfeng.schemas import Candidate

MAX_LEARNT = 50
"""Learnt phrasings a tool is also found by (the most used, then the most recent)."""


def tool_texts(name: str, record: VersionRecord, phrases: Mapping[str, list[int]]) -> list[str]:
    """What a tool is found by: a document of its name, description and parameters; its name
    and its description alone; and each learnt phrasing. The index scores a tool by its best
    text, so a short request that matches the name or one phrasing is not diluted by the
    rest of the document."""
    spec = record["spec"]
    parts = [name.replace("_", " "), spec.get("description", "")]
    for param, schema in spec.get("parameters", {}).get("properties", {}).items():
        parts.append(param.replace("_", " "))
        if isinstance(schema, dict) and schema.get("description"):
            parts.append(str(schema["description"]))
    learnt = sorted(phrases.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:MAX_LEARNT]
    name_words = name.replace("_", " ")
    description = str(spec.get("description", ""))
    return ["\n".join(parts), name_words, description, *(phrase for phrase, _ in learnt)]


class ToolSearch:
    """Searches the active tools of a registry state.

    Re-indexes at once when the usable tools change; when only learnt phrasings change, at
    most every ``phrase_refresh_s`` seconds (a lexical refit costs ~0.4 s at 10,000 tools).
    """

    def __init__(self, embedder: Embedder, *, phrase_refresh_s: float = 5.0) -> None:
        self.index = ToolIndex(embedder)
        self.phrase_refresh_s = phrase_refresh_s
        self._seen: tuple[int, int, int] | None = None
        self._built_at = 0.0
        self._active: dict[str, tuple[int, VersionRecord]] = {}
        self._registry: RegistryState | None = None
        self.vocabulary: frozenset[str] = frozenset()
        """The words of the active tools' names (the planner splits before them)."""
        self.composites: dict[tuple[str, ...], tuple[str, int, VersionRecord]] = {}
        """Active composite tools by their members' names: they answer a run of plan steps
        whose tools are those members, and are not searched for one step."""

    def refresh(self, registry: RegistryState) -> None:
        """Index the registry's active tools (a no-op when nothing searchable changed)."""
        self._registry = registry
        seen = (id(registry), registry["revision"], registry["phrases_revision"])
        if seen == self._seen:
            return
        only_phrases = self._seen is not None and seen[:2] == self._seen[:2]
        if only_phrases and time.monotonic() - self._built_at < self.phrase_refresh_s:
            return
        everything = active_tools(registry)
        active = {n: t for n, t in everything.items() if not t[1]["spec"].get("composition")}
        self.composites = {
            tuple(m["tool"] for m in record["spec"]["composition"]): (name, version, record)
            for name, (version, record) in everything.items()
            if record["spec"].get("composition")
        }
        self.index.build(
            {
                name: tool_texts(name, record, registry["phrases"].get(name, {}))
                for name, (_, record) in active.items()
            }
        )
        self._active = active
        self.vocabulary = tool_vocabulary(active)
        self._seen = seen
        self._built_at = time.monotonic()

    def search(self, query: str, policies: Mapping[str, JsonValue]) -> list[Candidate]:
        """Candidates at or above the threshold, best first."""
        threshold = float(policies["retrieval.threshold"])  # type: ignore[arg-type]
        top_k = int(policies["retrieval.top_k"])  # type: ignore[arg-type]
        rerank = bool(policies["retrieval.rerank"])
        weights: dict[str, Any] = policies["retrieval.weights"]  # type: ignore[assignment]
        registry = self._registry
        if registry is None:
            return []
        used_by = {
            name: _uses(stats_of(registry, name, version))
            for name, (version, _) in self._active.items()
        }
        most_used = max(used_by.values(), default=0)
        candidates = []
        for name, similarity in self.index.search(query, max(top_k * 4, 20)):
            version, _ = self._active[name]
            stats = stats_of(registry, name, version)
            rate = success_rate(stats)
            frequency = used_by[name] / most_used if most_used else 0.0
            score = similarity
            if rerank:
                score = (
                    float(weights.get("similarity", 0.0)) * similarity
                    + float(weights.get("success_rate", 0.0)) * rate
                    + float(weights.get("frequency", 0.0)) * frequency
                )
            candidates.append(
                Candidate(
                    tool=name,
                    version=version,
                    score=round(score, 6),
                    similarity=round(similarity, 6),
                    success_rate=round(rate, 6),
                    frequency=round(frequency, 6),
                )
            )
        candidates.sort(key=lambda c: (-c.score, c.tool))
        return [c for c in candidates if c.score >= threshold][:top_k]

    def pinned(self, query: str, tool: str, policies: Mapping[str, JsonValue]) -> list[Candidate]:
        """The one candidate a step is pinned to (a tool written for it), scored as the
        search scores it even below the threshold; empty when the tool is not usable."""
        if tool not in self._active:
            return []
        relaxed = {**policies, "retrieval.threshold": 0.0, "retrieval.top_k": len(self._active)}
        for candidate in self.search(query, relaxed):
            if candidate.tool == tool:
                return [candidate]
        version, _ = self._active[tool]
        return [Candidate(tool=tool, version=version, score=0.0, similarity=0.0)]

    def best_below(self, query: str, policies: Mapping[str, JsonValue]) -> float | None:
        """The best score even below the threshold (for a synthesis request's context)."""
        relaxed = {**policies, "retrieval.threshold": 0.0, "retrieval.top_k": 1}
        found = self.search(query, relaxed)
        return found[0].score if found else None


def _uses(stats: VersionStats) -> int:
    return stats["executions"] + stats["cache_hits"]
