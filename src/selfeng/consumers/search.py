"""Tool search for the request path: the registry's active tools, ranked by fit to a request.

Each active tool is one :class:`~selfeng.core.search_documents.Document`: its name, description and
parameters, the phrasings of its confirmed uses (``registry["phrases"]``), and the phrasings
users rejected it for (``registry.get("rejected", {})``), both templates whose ``{param}``
placeholders and ``#`` digits are stripped before indexing. The index scores a request
against one aggregate document per tool (fields and confirmed phrasings together) and
against the tool's nearest confirmed phrasing (see :mod:`selfeng.core.search`).

**Score.** A candidate's score is its similarity, lowered when the request resembles one of
the tool's rejected phrasings more closely than any of its confirmed ones: by nothing at a
resemblance of ``REJECTION_FLOOR`` or less, to 0 at 1. (Whether a request *is* a rejected
phrasing is decided by the request handler, on the template its real arguments give, and
then the tool does not answer it.) Usage therefore
raises a tool only for requests that resemble its confirmed uses; success rate and
frequency are reported on each candidate but do not change the order (measured: neither a
flat success term nor a popularity term helps, and both lift used tools for requests they do
not fit). Policies read: ``retrieval.threshold`` (the cut), ``retrieval.top_k``,
``retrieval.rerank`` (False: similarity alone, without the rejection penalty).
``retrieval.weights`` is no longer read: the score has no weighted terms (a weight of 1 on
similarity and 0 on the rest describes it).

**Refresh.** :meth:`ToolSearch.refresh` is cheap when nothing searchable changed. When only
phrasings changed (confirmed or rejected), it hands the rebuild to one background thread and
returns at once: searches keep using the previous index until the new one is installed. It
builds synchronously only when no index exists yet, or when a tool version became active
that the index does not have (a tool just registered must be found by the request that is
waiting for it); a tool that stopped being active is filtered out of results at once and
dropped from the index by a background rebuild.

**Where the vectors live.** With ``vectors`` (pgvector, when the projection store is
PostgreSQL) a dense embedder's rows are kept in the database, shared by every process on
it, and a request scores only the candidates the HNSW indexes return: :meth:`ranked` asks
again, deeper, until the ``k`` best are certain (excluded, retired and lowered tools never
crowd out one that would rank), and :meth:`pinned` scores its one tool exactly. Results are
those of the in-process index. The lexical embedder always searches in process (BM25 scores
depend on the whole corpus: see :mod:`selfeng.infra.store.tool_vectors`).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Collection, Mapping
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
from pydantic import JsonValue

from selfeng.consumers.tool_documents import (
    MAX_USES,
    Phrasings,
    rejected_phrasings,
    tool_document,
    tool_fields,
)
from selfeng.core.abbreviations import Abbreviations
from selfeng.core.embedder import Embedder
from selfeng.core.language import camel_words, words
from selfeng.core.policies import policy_float, policy_int
from selfeng.core.search import Match, ToolIndex
from selfeng.core.step_text import tool_vocabulary
from selfeng.core.vector_store import VectorStore
from selfeng.projections.registry import (
    RegistryState,
    VersionRecord,
    VersionStats,
    active_tools,
    live,
    stats_of,
    success_rate,
)
from selfeng.schemas import Candidate

log = logging.getLogger(__name__)

INDEX_POLICIES: Final[frozenset[str]] = frozenset({"retrieval.use_weight", "retrieval.nearest_use"})
"""The policies an index is built with: another value is another index."""

REJECTION_FLOOR: Final[float] = 0.5
"""Resemblance to a rejected phrasing at or below which a tool is not lowered."""


def _signature(registry: RegistryState) -> tuple[int, int, int, int, int]:
    """What changes when anything searchable does (cheap: no phrasing is read).

    The identity is the state's ``tools`` table, not the registry passed: a read-only view
    is a fresh copy of its top level at every read, whose ``id`` only matched the last one's
    when the allocator happened to reuse the address (it does not when two arms' registries
    alternate)."""
    return (
        id(dict.get(cast(dict[str, Any], registry), "tools")),
        registry["revision"],
        registry["phrases_revision"],
        int(cast(Mapping[str, Any], registry).get("rejected_revision", 0)),
        sum(len(v) for v in rejected_phrasings(registry).values()),
    )


Active = dict[str, tuple[int, VersionRecord]]
_BUILDER_IDLE_S = 2.0
_BUILDER_GATHER_S = 0.02
"""How long the background builder lets changes gather before it builds: every confirmed
answer teaches a phrasing, and one build per answer took the interpreter from the thread
answering the next one (with the fields below worked out once: a cached answer 1.93 ->
1.57 ms). ``wait`` does not wait for it."""


class ToolSearch:
    """Searches the active tools of a registry state (see the module doc).

    ``background=False`` rebuilds synchronously on every change (benchmarks and tests that
    want each change seen at once); :meth:`wait` waits for a background rebuild.
    ``vectors``: where a dense embedder's rows are kept and searched (pgvector, when the
    projection store is PostgreSQL); None, or a lexical embedder: in process.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        background: bool = True,
        max_uses: int = MAX_USES,
        vectors: VectorStore | None = None,
    ) -> None:
        self.index = ToolIndex(embedder, store=vectors)
        self.background = background
        self.max_uses = max_uses
        self.vocabulary: frozenset[str] = frozenset()
        """The words of the active tools' names (the planner splits before them)."""
        self.abbreviations = Abbreviations(())
        """The active tools' own words, which short words in a request are read as."""
        self.composites: dict[tuple[str, ...], tuple[str, int, VersionRecord]] = {}
        """Active composite tools by their members' names: they answer a run of plan steps
        whose tools are those members, and are not searched for one step."""
        self.builds = 0
        """Indexes built and installed so far."""
        self.last_build_s = 0.0
        """Seconds the last installed build took."""
        self._registry: RegistryState | None = None
        self._seen: tuple[int, ...] | None = None
        self._tools_seen: tuple[int, ...] | None = None
        self._active: Active = {}
        self._indexed: dict[str, int] = {}  # tool -> version, as in the installed index
        self._mask: tuple[object, object, npt.NDArray[np.bool_]] | None = None
        self._cond = threading.Condition()
        self._pending: tuple[int, RegistryState, Active] | None = None
        self._worker: threading.Thread | None = None
        self._building = False  # the builder is building (a job taken, not installed yet)
        self._waiting = 0  # threads in ``wait``: the builder does not let changes gather
        self._fields: dict[tuple[str, int], tuple[object, tuple[tuple[str, float], ...]]] = {}
        self._generation = 0  # of the newest build asked for
        self._installed = 0  # of the build installed
        self._settled = False  # the interpreter is exiting: no more background builds
        _LIVE.add(self)

    def refresh(
        self, registry: RegistryState, policies: Mapping[str, JsonValue] | None = None
    ) -> None:
        """Index the registry's active tools (a no-op when nothing searchable changed), with
        the weights ``policies`` give (``retrieval.use_weight``, ``retrieval.nearest_use``;
        None: the ones in force). New weights are a synchronous rebuild: the request that
        brought them is searched with them."""
        self._registry = registry
        reweighed = policies is not None and self._reweigh(policies)
        seen = _signature(registry)
        if seen == self._seen and not reweighed:
            return
        sync = not self.background or not self.index.fingerprint or reweighed or self._settled
        if seen[:2] != self._tools_seen:
            everything = active_tools(registry)
            active = {n: t for n, t in everything.items() if not t[1]["spec"].get("composition")}
            self.composites = {
                tuple(m["tool"] for m in record["spec"]["composition"]): (name, version, record)
                for name, (version, record) in everything.items()
                if record["spec"].get("composition")
            }
            self.vocabulary = tool_vocabulary(active)
            self.abbreviations = Abbreviations(
                w
                for name, (_, record) in active.items()
                for w in words(
                    f"{' '.join(camel_words(name))} {record['spec'].get('description', '')}"
                )
            )
            self._active = active
            self._tools_seen = seen[:2]
            with self._cond:
                indexed = dict(self._indexed)
            sync = sync or any(indexed.get(n) != v for n, (v, _) in active.items())
        self._seen = seen
        with self._cond:
            self._generation += 1
            job = (self._generation, registry, dict(self._active))
            if not sync:
                self._pending = job
                if self._worker is None:
                    # one long-lived builder: starting a thread per change would cost every
                    # request that teaches a phrasing more than the rest of a cached answer
                    self._worker = threading.Thread(
                        target=self._drain, name="tool-search-rebuild", daemon=True
                    )
                    self._worker.start()
                self._cond.notify_all()
                return
            self._pending = None  # the synchronous build below covers it
        self._build(*job)

    def _reweigh(self, policies: Mapping[str, JsonValue]) -> bool:
        """Take the weights of ``policies`` (a policy without a value keeps its weight);
        True when one changed."""
        weights = []
        for name, current in (
            ("retrieval.use_weight", self.index.use_weight),
            ("retrieval.nearest_use", self.index.nearest_use),
        ):
            try:
                weights.append(policy_float(policies, name))
            except (KeyError, TypeError):
                weights.append(current)
        if (self.index.use_weight, self.index.nearest_use) == tuple(weights):
            return False
        self.index.use_weight, self.index.nearest_use = weights
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no rebuild is pending or running; False on timeout."""
        with self._cond:
            self._waiting += 1
            self._cond.notify_all()  # a builder gathering changes builds now
            try:
                return self._cond.wait_for(
                    lambda: self._pending is None and not self._building, timeout
                )
            finally:
                self._waiting -= 1

    def settle(self, timeout: float | None = None) -> bool:
        """Start no more background builds and wait for the one running (False on timeout).
        Run at interpreter exit: a daemon thread stopped inside numpy's or scipy's C++ code
        while the interpreter finalizes aborts the process ("terminate called without an
        active exception")."""
        with self._cond:
            self._settled = True
            self._pending = None
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._building, timeout)

    def _drain(self) -> None:
        """The background builder: builds the newest pending snapshot, then waits for the
        next one; after ``_BUILDER_IDLE_S`` with none it ends."""
        while True:
            with self._cond:
                if self._settled:
                    self._building, self._pending, self._worker = False, None, None
                    self._cond.notify_all()
                    return
                if self._pending is None:
                    self._building = False
                    self._cond.notify_all()
                    self._cond.wait(_BUILDER_IDLE_S)
                if self._pending is None:
                    self._worker = None  # idle: the next change starts a new builder
                    return
                # let the changes of the next answers join this build
                deadline = time.monotonic() + _BUILDER_GATHER_S
                while not self._waiting and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
                job = self._pending
                if job is None:  # a synchronous build took it meanwhile
                    continue
                self._pending = None
                self._building = True
            try:
                self._build(*job)
            except Exception:  # keep serving the previous index; the next refresh retries
                log.exception("tool search: background rebuild failed")
                self._seen = None

    def _build(self, generation: int, registry: RegistryState, active: Active) -> None:
        started = time.perf_counter()
        phrases: Mapping[str, Phrasings] = registry["phrases"]
        rejected = rejected_phrasings(registry)
        documents = {
            # dict() copies a phrasing table in one step, safe while a fold appends to it
            name: tool_document(
                name,
                record,
                live(phrases.get(name)),
                live(dict(rejected.get(name) or {})),
                max_uses=self.max_uses,
                fields=self._fields_of(name, version, record),
            )
            for name, (version, record) in active.items()
        }
        prepared = self.index.prepare(documents)
        with self._cond:
            if generation <= self._installed:
                return  # a newer build got in first
            if prepared is not None:
                self.index.install(prepared)
                self.builds += 1
                self.last_build_s = time.perf_counter() - started
            self._installed = generation
            self._indexed = {name: version for name, (version, _) in active.items()}
            self._fields = {k: v for k, v in self._fields.items() if k[0] in active}

    def _fields_of(
        self, name: str, version: int, record: VersionRecord
    ) -> tuple[tuple[str, float], ...]:
        """A tool version's fields, worked out once per version."""
        # the spec object itself, not the read-only view a read of it makes (a new one each
        # time): the same object while the version's record is not replaced
        spec = dict.get(cast(dict[str, Any], record), "spec")
        cached = self._fields.get((name, version))
        if cached is not None and cached[0] is spec:
            return cached[1]
        fields = tool_fields(name, record)
        self._fields[(name, version)] = (spec, fields)
        return fields

    def search(
        self, query: str, policies: Mapping[str, JsonValue], *, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        """Candidates at or above the threshold, best first (at most ``retrieval.top_k``);
        ``exclude`` names tools not to return."""
        threshold = policy_float(policies, "retrieval.threshold")
        top_k = policy_int(policies, "retrieval.top_k")
        found = self.ranked(query, policies, k=top_k, exclude=exclude)
        if not any(c.score >= threshold for c in found):
            # short words ("avg", "std dev") are read as the tools' own only when the words
            # as written find nothing: where they do, a reading would only add noise
            expanded = self.abbreviations.expand(query)
            if expanded != query:
                found = self.ranked(expanded, policies, k=top_k, exclude=exclude)
        return [c for c in found if c.score >= threshold]

    def ranked(
        self,
        query: str,
        policies: Mapping[str, JsonValue],
        *,
        k: int | None = None,
        exclude: Collection[str] = (),
    ) -> list[Candidate]:
        """The ``k`` best candidates (``retrieval.top_k`` when None) with any score above 0,
        best first, without the threshold cut."""
        limit = policy_int(policies, "retrieval.top_k") if k is None else k
        if limit <= 0 or self._registry is None:
            return []
        rerank = bool(policies["retrieval.rerank"])

        def score(found: Match) -> npt.NDArray[np.float32]:
            scores = self._scores(found, rerank)
            scores = np.where(self._usable(found.ids), scores, np.float32(0.0))
            for name in exclude:
                at = found.position.get(name)
                if at is not None:
                    scores[at] = 0.0
            return scores

        # from a stored index, the candidates are the nearest ones, asked for again deeper
        # until the best ``limit`` scores are certain: excluded, retired and lowered tools
        # never crowd out one that would have ranked
        found, picked = self.index.ranked(query, limit, score)
        return self._candidates(found, picked)

    def pinned(self, query: str, tool: str, policies: Mapping[str, JsonValue]) -> list[Candidate]:
        """The one candidate a step is pinned to (a tool written for it), scored as the
        search scores it even below the threshold; empty when the tool is not usable."""
        if tool not in self._active:
            return []
        found = self.index.match(query, depth=0, include=(tool,))
        at = found.position.get(tool)
        if at is None:
            version, _ = self._active[tool]
            return [Candidate(tool=tool, version=version, score=0.0, similarity=0.0)]
        scores = self._scores(found, bool(policies["retrieval.rerank"]))
        return self._candidates(found, [(tool, float(scores[at]))])

    def best_below(self, query: str, policies: Mapping[str, JsonValue]) -> float | None:
        """The best score even below the threshold (for a synthesis request's context)."""
        found = self.ranked(query, policies, k=1)
        return found[0].score if found else None

    @staticmethod
    def _scores(found: Match, rerank: bool) -> npt.NDArray[np.float32]:
        """Similarity, lowered where a rejected phrasing is nearer than any confirmed one."""
        scores = found.similarity.copy()
        if not rerank:
            return scores
        closer = (found.rejected > REJECTION_FLOOR) & (found.rejected > found.confirmed)
        if closer.any():
            lowered = (found.rejected[closer] - REJECTION_FLOOR) / (1.0 - REJECTION_FLOOR)
            scores[closer] *= np.clip(1.0 - lowered, 0.0, 1.0)
        return scores

    def _usable(self, ids: tuple[str, ...]) -> npt.NDArray[np.bool_]:
        """Which indexed tools are active now (the index may lag a deprecation)."""
        active = self._active
        cached = self._mask
        if cached is not None and cached[0] is ids and cached[1] is active:
            return cached[2]
        mask = np.fromiter((name in active for name in ids), dtype=np.bool_, count=len(ids))
        self._mask = (ids, active, mask)
        return mask

    def _candidates(self, found: Match, picked: list[tuple[str, float]]) -> list[Candidate]:
        registry = self._registry
        out: list[tuple[str, int, float, float, VersionStats]] = []
        for name, score in picked:
            entry = self._active.get(name)
            if entry is None or registry is None:
                continue
            version = entry[0]
            similarity = float(found.similarity[found.position[name]])
            out.append((name, version, score, similarity, stats_of(registry, name, version)))
        most_used = max((_uses(s) for *_, s in out), default=0)
        return [
            Candidate(
                tool=name,
                version=version,
                score=round(score, 6),
                similarity=round(similarity, 6),
                success_rate=round(success_rate(stats), 6),
                frequency=round(_uses(stats) / most_used, 6) if most_used else 0.0,
            )
            for name, version, score, similarity, stats in out
        ]


def _uses(stats: VersionStats) -> int:
    return stats["executions"] + stats["cache_hits"]


_LIVE: weakref.WeakSet[ToolSearch] = weakref.WeakSet()
"""Every search of this process, settled at exit."""
_EXIT_WAIT_S: Final = 10.0


@atexit.register
def _settle_all() -> None:
    for search in list(_LIVE):
        search.settle(_EXIT_WAIT_S)
