"""Tool search over a registry state: what usage and feedback may and may not change, the
threshold, and refreshes that never make a request wait for a rebuild."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import JsonValue

from selfeng.consumers import search as search_module
from selfeng.consumers.search import ToolSearch
from selfeng.consumers.tool_documents import MAX_USES, representative, tool_document, tool_fields
from selfeng.core.embedder import WeightedTexts
from selfeng.core.policies import default_values
from selfeng.infra.embed.lexical import LexicalDocuments, LexicalEmbedder
from selfeng.projections.registry import RegistryState
from selfeng.projections.views import frozen

TOOLS: dict[str, tuple[str, dict[str, str]]] = {
    "reverse_string": ("Reverse a string: its characters in reverse order.", {"text": "the text"}),
    "count_words": ("Count the words in a text.", {"text": "the text whose words are counted"}),
    "percent_of": ("Calculate a percentage of a number.", {"percent": "e.g. 25", "value": "whole"}),
    "to_uppercase": ("Convert a text to upper case letters.", {"text": "the text"}),
    "convert_length": (
        "Convert a length between units: km, miles, feet.",
        {"value": "the length", "from_unit": "its unit", "to_unit": "the unit wanted"},
    ),
    "send_email": ("Send an email message to a recipient.", {"to": "address", "body": "text"}),
    "book_flight": ("Book a flight between two airports on a date.", {"origin": "airport"}),
    "weather_forecast": ("The weather forecast for a city.", {"city": "the city"}),
}

POLICIES: dict[str, JsonValue] = {**default_values(), "retrieval.threshold": 0.0}


def record(description: str, params: Mapping[str, str]) -> Any:
    return {
        "status": "registered",
        "spec": {
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": "string", "description": v} for k, v in params.items()},
            },
        },
        "code": "",
        "tests": "",
        "origin": "human",
        "proposed_at": "2025-01-01T00:00:00+00:00",
        "report": None,
        "reason": None,
    }


def stats(**counts: int) -> Any:
    """A version's stats as the registry keeps them (the counts given, zeros otherwise)."""
    base = {"executions": 0, "successes": 0, "cache_hits": 0, "total_ms": 1.0}
    return {**base, "last_used_ms": 1, "confirmed": 0, "rejected": 0, **counts}


def registry(
    phrases: dict[str, dict[str, list[int]]] | None = None,
    rejected: dict[str, dict[str, list[int]]] | None = None,
    tools: Mapping[str, tuple[str, dict[str, str]]] = TOOLS,
) -> RegistryState:
    state: dict[str, Any] = {
        "tools": {
            name: {"active": 1, "history": [], "versions": {"1": record(d, p)}}
            for name, (d, p) in tools.items()
        },
        "stats": {},
        "phrases": phrases or {},
        "rejected": rejected or {},
        "revision": 1,
        "phrases_revision": 0,
    }
    return state  # type: ignore[return-value]


def search_over(state: RegistryState) -> ToolSearch:
    search = ToolSearch(LexicalEmbedder(), background=False)
    search.refresh(state)
    return search


def scores(search: ToolSearch, query: str) -> dict[str, float]:
    return {c.tool: c.score for c in search.ranked(query, POLICIES, k=100)}


def first(
    search: ToolSearch, query: str, policies: Mapping[str, JsonValue] = POLICIES
) -> str | None:
    found = search.ranked(query, policies, k=1)
    return found[0].tool if found else None


USES = {
    "send_email": {
        "email my landlord that the rent is late": [40, 1, 1],
        "write to {to} that the meeting moved": [25, 2, 1],
        "send a message to {to} saying {body}": [30, 3, 1],
        "let {to} know by mail that i am sick": [12, 4, 1],
    }
}


# usage -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_text",
    [
        "Convert 10 km to miles",
        "what is the weather forecast in Paris",
        "reverse the string hello",
        "book a flight from Boston to Denver",
        "count the words in this text",
    ],
)
def test_usage_never_lifts_a_tool_for_unrelated_requests(request_text: str) -> None:
    cold = scores(search_over(registry()), request_text)
    used = scores(search_over(registry(phrases=copy.deepcopy(USES))), request_text)
    assert used.get("send_email", 0.0) <= cold.get("send_email", 0.0) + 1e-6
    assert max(used, key=lambda t: used[t]) == max(cold, key=lambda t: cold[t])


def test_usage_lifts_a_tool_for_requests_like_its_uses() -> None:
    request = "email my landlord that the heating is broken"
    cold = search_over(registry())
    used = search_over(registry(phrases=copy.deepcopy(USES)))
    assert scores(used, request)["send_email"] > scores(cold, request).get("send_email", 0.0)
    assert first(used, request) == "send_email"


def test_how_often_a_tool_ran_does_not_change_its_rank() -> None:
    state = registry()
    busy = registry()
    busy["stats"] = {"send_email@1": stats(executions=10_000, successes=10_000, cache_hits=500)}
    for request in ("convert 5 miles to km", "send an email to Bob", "reverse hello"):
        cold = search_over(state).ranked(request, POLICIES, k=5)
        popular = search_over(busy).ranked(request, POLICIES, k=5)
        assert [(c.tool, c.score) for c in popular] == [(c.tool, c.score) for c in cold]


def test_a_confirmed_phrasing_is_found_word_for_word() -> None:
    phrases = {"to_uppercase": {"shout {text}": [1, 1, 1]}}
    search = search_over(registry(phrases=phrases))
    assert first(search, "shout") == "to_uppercase"
    assert scores(search, "shout")["to_uppercase"] == pytest.approx(0.9, abs=1e-3)


# rejected phrasings ------------------------------------------------------------------------


def test_a_rejected_phrasing_lowers_its_tool_for_that_phrasing_only() -> None:
    # "convert the text to capitals" went to convert_length and the user said it was wrong
    rejected = {"convert_length": {"convert the text to capital letters": [1, 5]}}
    before = search_over(registry())
    after = search_over(registry(rejected=rejected))
    near = "convert this text to capital letters please"
    assert scores(after, near).get("convert_length", 0.0) < scores(before, near)["convert_length"]
    assert first(after, near) == "to_uppercase"
    for other in ("convert 10 km to miles", "convert 3 feet to km", "reverse a string"):
        assert scores(after, other) == pytest.approx(scores(before, other))
    assert first(after, "convert 10 km to miles") == "convert_length"


def test_a_rejected_phrasing_lowers_its_tool_for_that_kind_of_request() -> None:
    """Search lowers; the request handler excludes the tool for the exact phrasing (its
    evidence is the template of the real arguments: tests/consumers/test_feedback.py)."""
    before = search_over(registry())
    request = "convert 10 km to miles"
    assert first(before, request) == "convert_length"
    rejected = {"convert_length": {"convert {value} km to miles": [1, 5, 1]}}
    after = search_over(registry(rejected=rejected))
    assert first(after, request) != "convert_length"
    assert "convert_length" not in scores(after, request)
    assert first(after, "Convert  7 KM to miles") != "convert_length"  # the same template
    # other phrasings: lowered as far as they resemble it, and still found
    assert first(after, "convert 3 feet to km") == "convert_length"
    assert first(after, "length of 5 feet in miles") == "convert_length"
    # a rejection in an answer of several steps does not blame this tool alone: not lowered
    shared = {"convert_length": {"convert {value} km to miles": [1, 5, 0]}}
    assert first(search_over(registry(rejected=shared)), request) == "convert_length"
    plain = {**POLICIES, "retrieval.rerank": False}
    assert first(after, request, plain) == "convert_length"  # similarity alone


def test_a_template_without_words_of_its_own_bars_nothing() -> None:
    rejected = {"reverse_string": {"{text}": [3, 5]}}
    search = search_over(registry(rejected=rejected))
    assert first(search, "reverse the string hello") == "reverse_string"


def test_a_rejection_outweighed_by_a_nearer_confirmed_phrasing_does_not_lower() -> None:
    phrases = {"to_uppercase": {"make the text loud": [3, 1, 1]}}
    rejected = {"to_uppercase": {"make the text loud and proud": [1, 2]}}
    confirmed_only = search_over(registry(phrases=phrases))
    both = search_over(registry(phrases=phrases, rejected=rejected))
    request = "make the text loud"
    assert scores(both, request)["to_uppercase"] == pytest.approx(
        scores(confirmed_only, request)["to_uppercase"]
    )


# representative phrasings ------------------------------------------------------------------


def test_more_phrasings_than_the_cap_keep_the_rare_distinct_ones() -> None:
    common = {f"reverse the string {{text}} number {i}": [50, i, 1] for i in range(40)}
    rare = {"flip {text} backwards like a mirror": [1, 0, 1]}
    kept = representative({**common, **rare}, cap=10)
    assert len(kept) == 10
    assert "flip backwards like a mirror" in kept
    phrases = {"reverse_string": {**common, **rare}}
    search = ToolSearch(LexicalEmbedder(), background=False, max_uses=10)
    search.refresh(registry(phrases=phrases))
    found = search.ranked("flip it backwards", POLICIES, k=1)
    assert found[0].tool == "reverse_string"
    assert found[0].score >= 0.4


def test_many_phrasings_do_not_bury_a_rare_one() -> None:
    many = {f"reverse the string {{text}} variant {i}": [5, i, 1] for i in range(MAX_USES + 50)}
    many["mirror {text} backwards"] = [1, 0, 1]
    search = search_over(registry(phrases={"reverse_string": many}))
    found = search.ranked("mirror hello backwards", POLICIES, k=1)
    assert found[0].tool == "reverse_string"
    assert found[0].score >= 0.4


def test_placeholders_and_digits_are_not_indexed() -> None:
    document = tool_document(
        "t", record("d", {}), {"add {a} and {b} then # more": [1, 1, 1]}, {}, max_uses=5
    )
    assert document.uses == ("add and then more",)


# threshold, exclusion, pinning -------------------------------------------------------------


def test_the_threshold_cuts_and_top_k_limits() -> None:
    search = search_over(registry())
    request = "convert 10 km to miles"
    everything = search.ranked(request, POLICIES, k=10)
    assert len(everything) >= 2
    cut = {**POLICIES, "retrieval.threshold": 0.4, "retrieval.top_k": 5}
    kept = search.search(request, cut)
    assert [c.tool for c in kept] == [c.tool for c in everything if c.score >= 0.4][:5]
    assert kept
    assert all(c.score >= 0.4 for c in kept)
    assert search.search(request, {**cut, "retrieval.top_k": 1}) == kept[:1]
    assert search.search("what is the capital of Mongolia", cut) == []
    assert search.best_below("convert 10 km to miles", cut) == everything[0].score
    assert [c.score for c in everything] == sorted((c.score for c in everything), reverse=True)


@pytest.mark.parametrize(
    "request_text",
    ["Translate this sentence into Klingon", "what is the capital of Mongolia", "", "?! 12 3"],
)
def test_unrelated_requests_stay_below_the_threshold(request_text: str) -> None:
    search = search_over(registry(phrases=copy.deepcopy(USES)))
    assert search.search(request_text, {**POLICIES, "retrieval.threshold": 0.4}) == []


def test_exclude_and_pinned() -> None:
    search = search_over(registry())
    request = "convert 10 km to miles"
    assert first(search, request) == "convert_length"
    others = search.ranked(request, POLICIES, k=5, exclude={"convert_length"})
    assert others
    assert all(c.tool != "convert_length" for c in others)
    (pinned,) = search.pinned("shout it", "to_uppercase", POLICIES)
    assert pinned.tool == "to_uppercase"
    assert search.pinned("anything", "no_such_tool", POLICIES) == []


def test_candidates_report_success_rate_and_frequency() -> None:
    state = registry()
    state["stats"] = {"convert_length@1": stats(executions=8, successes=6, cache_hits=2)}
    (found, *_) = search_over(state).ranked("convert 10 km to miles", POLICIES, k=3)
    assert found.tool == "convert_length"
    assert found.success_rate == pytest.approx(7 / 10)
    assert found.frequency == 1.0
    assert found.score == found.similarity


# refreshes ---------------------------------------------------------------------------------


class Gated(LexicalEmbedder):
    """The lexical embedder whose fits wait for a gate once ``hold`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.fits = 0

    def fit_documents(
        self, documents: Sequence[WeightedTexts], phrasings: Sequence[str] = ()
    ) -> LexicalDocuments:
        self.fits += 1
        if self.hold:
            self.entered.set()
            assert self.gate.wait(10)
        return super().fit_documents(documents, phrasings)


def test_a_background_refresh_serves_the_old_index_until_the_new_one_is_ready() -> None:
    embedder = Gated()
    search = ToolSearch(embedder)
    state = registry()
    search.refresh(state)  # the first build is synchronous
    assert first(search, "shout hello") is None
    embedder.hold = True
    state["phrases"]["to_uppercase"] = {"shout {text}": [1, 1, 1]}
    state["phrases_revision"] += 1
    started = time.perf_counter()
    search.refresh(state)
    assert time.perf_counter() - started < 0.5  # the request did not wait for the build
    assert embedder.entered.wait(10)  # the rebuild is running, held at the gate
    assert first(search, "shout hello") is None  # the previous index is served meanwhile
    assert first(search, "convert 10 km to miles") == "convert_length"
    assert search.wait(0.05) is False
    embedder.gate.set()
    assert search.wait(10)
    assert first(search, "shout hello") == "to_uppercase"  # and then the new one
    search.refresh(state)  # nothing changed: no rebuild
    assert search.wait(1)
    assert embedder.fits == 2


def test_at_exit_a_running_rebuild_is_waited_for_and_no_more_start() -> None:
    """A daemon builder stopped inside numpy's or scipy's C++ code while the interpreter
    finalizes aborts the process ("terminate called without an active exception"): at exit
    (``settle``, which an atexit hook runs for every search) the running build is waited
    for, and later refreshes build in the caller's thread."""
    embedder = Gated()
    search = ToolSearch(embedder)
    state = registry()
    search.refresh(state)
    embedder.hold = True
    state["phrases"]["to_uppercase"] = {"shout {text}": [1, 1, 1]}
    state["phrases_revision"] += 1
    search.refresh(state)
    assert embedder.entered.wait(10)  # a background build is running, held at the gate
    assert search.settle(0.05) is False  # still building: settle waits for it
    worker = search._worker
    embedder.gate.set()
    assert search.settle(10)
    assert worker is not None
    worker.join(10)
    assert not worker.is_alive()
    assert search._worker is None
    built = search.builds
    state["phrases"]["to_uppercase"]["yell {text}"] = [1, 1, 1]
    state["phrases_revision"] += 1
    search.refresh(state)
    assert search.builds == built + 1  # built before refresh returned, in this thread
    assert search._worker is None
    assert search in search_module._LIVE


def test_changes_during_a_rebuild_are_coalesced_into_one_more() -> None:
    embedder = Gated()
    search = ToolSearch(embedder)
    state = registry()
    search.refresh(state)
    embedder.hold = True
    builders = []
    for i in range(5):
        state["phrases"].setdefault("to_uppercase", {})[f"shout variant {i}"] = [1, i, 1]
        state["phrases_revision"] += 1
        search.refresh(state)
        builders.append(search._worker)
    assert embedder.entered.wait(10)
    assert len({id(b) for b in builders}) == 1  # one builder, not one thread per change
    embedder.gate.set()
    assert search.wait(10)
    assert embedder.fits <= 3  # the first, the one held, and one with everything since
    assert first(search, "shout variant 4") == "to_uppercase"


def test_changes_in_quick_succession_gather_into_few_builds() -> None:
    """Every confirmed answer teaches a phrasing; the builder lets the changes of the next
    moments join one build instead of building once per answer."""
    embedder = Gated()
    search = ToolSearch(embedder)
    state = registry()
    search.refresh(state)
    started = time.perf_counter()
    for i in range(10):
        state["phrases"].setdefault("to_uppercase", {})[f"shout variant {i}"] = [1, i, 1]
        state["phrases_revision"] += 1
        search.refresh(state)
        time.sleep(0.002)  # a cached answer's time
    elapsed = time.perf_counter() - started
    assert search.wait(10)
    # one build per gathering window at most (0.02 s), the first and the last
    assert embedder.fits <= 2 + int(elapsed / 0.02) + 1 < 11
    assert first(search, "shout variant 9") == "to_uppercase"


def test_a_tools_fields_are_worked_out_once_per_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler hands the search read-only views, a new one at every read: the fields
    are still remembered per version, not worked out again at every build."""
    worked: list[str] = []
    real = tool_fields

    def counted(name: str, record: Any) -> tuple[tuple[str, float], ...]:
        worked.append(name)
        return real(name, record)

    monkeypatch.setattr(search_module, "tool_fields", counted)
    state = registry()
    search = ToolSearch(LexicalEmbedder(), background=False)
    search.refresh(frozen(state))
    assert sorted(worked) == sorted(TOOLS)
    state["phrases"]["to_uppercase"] = {"shout {text}": [1, 1, 1]}
    state["phrases_revision"] += 1
    search.refresh(frozen(state))
    assert first(search, "shout hello") == "to_uppercase"  # rebuilt
    assert sorted(worked) == sorted(TOOLS)  # from the fields it had


def test_a_new_tool_is_indexed_before_the_refresh_returns() -> None:
    embedder = Gated()
    search = ToolSearch(embedder)
    state = registry()
    search.refresh(state)
    state["tools"]["translate_text"] = {
        "active": 1,
        "history": [],
        "versions": {"1": record("Translate a text into another language.", {"text": "t"})},
    }
    state["revision"] += 1
    embedder.hold = True
    refreshing = threading.Thread(target=search.refresh, args=(state,))
    refreshing.start()
    assert embedder.entered.wait(10)
    time.sleep(0.05)
    assert refreshing.is_alive()  # the refresh waits for the build: the tool is needed now
    embedder.gate.set()
    refreshing.join(10)
    assert first(search, "translate this into French") == "translate_text"
    assert "translate" in search.vocabulary


def test_a_deprecated_tool_is_not_returned_even_before_the_rebuild() -> None:
    embedder = Gated()
    search = ToolSearch(embedder)
    state = registry()
    search.refresh(state)
    embedder.hold = True
    state["tools"]["convert_length"]["active"] = None
    state["revision"] += 1
    search.refresh(state)
    assert first(search, "convert 10 km to miles") != "convert_length"
    assert search.pinned("convert 10 km", "convert_length", POLICIES) == []
    embedder.gate.set()
    assert search.wait(10)
    assert "convert_length" not in search.index


def test_searches_from_threads_during_rebuilds_see_a_consistent_index() -> None:
    search = ToolSearch(LexicalEmbedder())
    state = registry()
    search.refresh(state)
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                assert first(search, "convert 10 km to miles") == "convert_length"
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(20):
        state["phrases"].setdefault("reverse_string", {})[f"flip {i} around"] = [1, i, 1]
        state["phrases_revision"] += 1
        search.refresh(state)
        time.sleep(0.002)
    assert search.wait(10)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert first(search, "flip 19 around") == "reverse_string"


def test_composites_are_not_searched_but_listed() -> None:
    state = registry()
    composite = record("percent then reverse", {})
    composite["spec"]["composition"] = [
        {"tool": "percent_of", "version": 1, "handoff": None},
        {"tool": "reverse_string", "version": 1, "handoff": "text"},
    ]
    state["tools"]["percent_then_reverse"] = {
        "active": 1,
        "history": [],
        "versions": {"1": composite},
    }
    search = search_over(state)
    assert ("percent_of", "reverse_string") in search.composites
    assert "percent_then_reverse" not in scores(search, "percent then reverse")


# the search's weights are policies ------------------------------------------------------------


def test_the_weights_are_policies_read_at_refresh() -> None:
    phrases = {"to_uppercase": {"make {text} loud and shouty": [3, 1, 3]}}
    state = registry(phrases=phrases)
    search = search_over(state)
    request = "make hello loud and shouty"
    default = scores(search, request)["to_uppercase"]
    assert default == pytest.approx(0.9, abs=0.02)  # a confirmed use repeated: NEAREST_USE
    built = search.builds
    search.refresh(state, POLICIES)  # the defaults: nothing to rebuild
    assert search.builds == built
    search.refresh(state, {**POLICIES, "retrieval.nearest_use": 0.5})
    assert search.builds == built + 1  # at once, even with a background builder
    lowered = scores(search, request)["to_uppercase"]
    assert lowered < default - 0.2
    search.refresh(state, {**POLICIES, "retrieval.use_weight": 0.0, "retrieval.nearest_use": 0.5})
    # uses no longer count in the document: only its own words ("make", "loud" are not)
    assert scores(search, request).get("to_uppercase", 0.0) < lowered
