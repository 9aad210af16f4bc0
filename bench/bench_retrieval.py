"""Tool retrieval: learning from use on three public sets, and speed over 10,000 tools.

Run: ``python bench/bench_retrieval.py [--data DIR] [--docs N] [--only NAMES] [--no-speed]``.
Prints Markdown tables; every number in them is measured in the same run.

**Sets** (``shared/data``, see its README). Each gives tools (name, description, parameters)
and requests labelled with the tools that answer them; requests are split into *history*
(past uses) and *unseen* ones (evaluated), seeded.

- ``huggingface``: Gorilla APIBench HuggingFace, 936 APIs (a tool's description is the API's
  domain, functionality and description; its parameters ``api_arguments``), 911 requests
  (the ``###Instruction:`` text). Relevant: any API of the request's ``api_name``. Split per
  ``api_name``: half of its requests (rounded down) go to history, so 351 APIs asked once
  have only unseen requests. History is about one use per tool here: 5, 20 and all uses per
  tool are the same condition.
- ``torchhub``: Gorilla APIBench TorchHub, 94 APIs; the 837 training requests are history,
  the 186 evaluation requests unseen. Relevant: any API of the request's ``api_name``.
- ``bfcl``: BFCL v4 multi-turn function docs (153 functions, the duplicated memory API names
  once); each user turn is a request, labelled with the functions its ground truth calls
  (any of them is relevant; history teaches it to each). Split by conversation, half and
  half.

**Conditions.** *cold*: no history. *5 / 20 / all uses per tool*: the first 5, 20 or all
history requests of each tool are its confirmed uses (correct labels). *feedback traffic*:
the history is replayed through the search (the index refreshed every ``--batch``
requests); the top-1 tool is the answer, and a simulated user rates it good when it is
relevant, bad otherwise: good adds the request's phrasing to the tool's confirmed uses, bad
to its rejected phrasings. *uncorrected traffic*: the same replay where every answer is
taken as confirmed (no feedback, nothing rejected), for contrast. Phrasings are stored as
the registry stores them (templates: digits as ``#``, lower case, single spaces).

**Systems.** ``bm25s``: plain BM25 (``bm25s`` defaults) over name and description, the
usual baseline; ``bm25s + uses``: the same with the condition's confirmed uses appended to
each tool's document; ``selfeng``: :class:`~selfeng.consumers.search.ToolSearch` with the
default (lexical) embedder over a registry state built as the projection stores it. R@k is
the share of unseen requests with a relevant tool in the top k, MRR the mean reciprocal
rank of the first relevant one.

**Repeat traffic.** After the feedback replay, the history requests are asked again: the
share answered right first (R@1), with and without the rejected phrasings, against cold.

**Threshold.** At each ``retrieval.threshold``, after all uses (and cold): the share of unseen
requests answered right (top-1 relevant and at or above the threshold), answered wrong, and
the share of unrelated requests (the other sets' requests: Gorilla's against BFCL's tools
and BFCL's against Gorilla's) that clear it.

**Speed.** 10,000 synthetic tools (names, descriptions and parameters drawn from the words
of the TorchHub and BFCL descriptions with a Zipf law, a third with learnt phrasings) as a
registry state: ``ToolSearch.search`` p50 and p95 over 300 requests, the synchronous build,
and what one more learnt phrasing costs: the request's ``refresh`` (the request path) and
the time until the rebuilt index is installed (a background thread); for contrast the
same refresh when rebuilds are synchronous (``background=False``), which is what the request
path paid before. And one newly registered tool, which is indexed synchronously.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bm25s

from common import table
from selfeng.consumers.search import ToolSearch
from selfeng.core.policies import default_values
from selfeng.infra.embed.lexical import LexicalEmbedder
from selfeng.projections.registry import RegistryState, normalise_phrase

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SEED = 0
POLICIES: dict[str, Any] = {**default_values(), "retrieval.threshold": 0.0}
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5)


@dataclass(frozen=True)
class Tool:
    """One tool of a set: its registry name, what relevance compares, and its spec."""

    name: str
    key: str
    description: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class Dataset:
    """Tools, history requests (text, tools that answer it) and unseen ones."""

    name: str
    tools: list[Tool]
    history: list[tuple[str, list[str]]]
    unseen: list[tuple[str, set[str]]]  # text, relevant keys

    def key(self, tool: str) -> str:
        """What relevance compares for a registry tool name."""
        return self._keys[tool]

    @property
    def _keys(self) -> dict[str, str]:
        found: dict[str, str] | None = self.__dict__.get("_key_cache")
        if found is None:
            found = {t.name: t.key for t in self.tools}
            object.__setattr__(self, "_key_cache", found)
        return found


def _instruction(code: str) -> str:
    if code.startswith("{'Instruction':"):  # TorchHub's training file: a Python repr
        text = code[len("{'Instruction':") :].split(", 'Output':")[0].strip()
        return text.strip("\"'").strip()
    return code.split("###Output")[0].replace("###Instruction:", "").strip()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open() if line.strip()]


def _unique(name: str, taken: set[str]) -> str:
    """A registry name: the API's, with ``#2``, ``#3`` ... for a name already taken."""
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name}#{n}"
    taken.add(out)
    return out


def _gorilla_tools(apis: list[dict[str, Any]], described: Callable[[dict[str, Any]], str]) -> (
    tuple[list[Tool], dict[tuple[str, str], str]]
):  # fmt: skip
    tools: list[Tool] = []
    taken: set[str] = set()
    by_call: dict[tuple[str, str], str] = {}
    for api in apis:
        args = api.get("api_arguments")
        params = (
            {str(k): str(v) for k, v in args.items()}
            if isinstance(args, dict)
            else {str(k): "" for k in args}
            if isinstance(args, list)
            else {}
        )
        name = _unique(api["api_name"], taken)
        tools.append(Tool(name, api["api_name"], described(api), params))
        by_call.setdefault((api["api_name"], api["api_call"]), name)
    return tools, by_call


def _gold(item: dict[str, Any], tools: list[Tool], by_call: dict[tuple[str, str], str]) -> str:
    data = item["api_data"]
    found = by_call.get((data["api_name"], data["api_call"]))
    return found or next(t.name for t in tools if t.key == data["api_name"])


def huggingface(folder: Path, seed: int = SEED) -> Dataset:
    """Gorilla HuggingFace, split per API name (half of each one's requests to history)."""
    tools, by_call = _gorilla_tools(
        _jsonl(folder / "huggingface_api.jsonl"),
        lambda a: f"{a['domain']}. {a['functionality']}. {a['description'] or ''}",
    )
    per_key: dict[str, list[tuple[str, str]]] = {}
    for item in _jsonl(folder / "huggingface_eval.json"):
        per_key.setdefault(item["api_data"]["api_name"], []).append(
            (_instruction(item["code"]), _gold(item, tools, by_call))
        )
    rng = random.Random(seed)
    history: list[tuple[str, list[str]]] = []
    unseen: list[tuple[str, set[str]]] = []
    for key in sorted(per_key):
        items = per_key[key][:]
        rng.shuffle(items)
        half = len(items) // 2
        history += [(q, [gold]) for q, gold in items[:half]]
        unseen += [(q, {key}) for q, _ in items[half:]]
    rng.shuffle(history)
    return Dataset("huggingface", tools, history, unseen)


def torchhub(folder: Path, seed: int = SEED) -> Dataset:
    """Gorilla TorchHub: training requests are history, evaluation requests unseen."""
    tools, by_call = _gorilla_tools(
        _jsonl(folder / "torchhub_api.jsonl"), lambda a: str(a["description"])
    )
    history = [
        (_instruction(i["code"]), [_gold(i, tools, by_call)])
        for i in _jsonl(folder / "torchhub_train.json")
    ]
    random.Random(seed).shuffle(history)
    unseen = [
        (_instruction(i["code"]), {i["api_data"]["api_name"]})
        for i in _jsonl(folder / "torchhub_eval.json")
    ]
    return Dataset("torchhub", tools, history, unseen)


def bfcl(folder: Path, seed: int = SEED) -> Dataset:
    """BFCL multi-turn: user turns labelled by the functions called, split by conversation."""
    tools: list[Tool] = []
    for path in sorted((folder / "func_doc").glob("*.json")):
        for doc in _jsonl(path):
            if any(t.name == doc["name"] for t in tools):
                continue  # the memory APIs repeat names: one tool each
            props = doc.get("parameters", {}).get("properties", {})
            params = {k: str(v.get("description", "")) for k, v in props.items()}
            tools.append(Tool(doc["name"], doc["name"], doc["description"], params))
    questions = _jsonl(folder / "questions.jsonl")
    answers = _jsonl(folder / "possible_answer.jsonl")
    order = list(range(len(questions)))
    rng = random.Random(seed)
    rng.shuffle(order)
    in_history = set(order[: len(order) // 2])
    history: list[tuple[str, list[str]]] = []
    unseen: list[tuple[str, set[str]]] = []
    for i, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        for turn, calls in zip(question["question"], answer["ground_truth"], strict=True):
            text = " ".join(m["content"] for m in turn if m["role"] == "user").strip()
            called = list(dict.fromkeys(re.match(r"\w+", c).group() for c in calls))  # type: ignore[union-attr]
            if not text or not called:
                continue
            if i in in_history:
                history.append((text, called))
            else:
                unseen.append((text, set(called)))
    rng.shuffle(history)
    return Dataset("bfcl", tools, history, unseen)


# registry states, as the projection stores them ------------------------------------------


def phrasing(request: str) -> str:
    """A request as the registry learns it (no argument values here: digits become ``#``)."""
    return normalise_phrase(re.sub(r"\d+(?:[.,]\d+)*", "#", request))


def registry_state(
    tools: Iterable[Tool],
    phrases: dict[str, dict[str, list[int]]] | None = None,
    rejected: dict[str, dict[str, list[int]]] | None = None,
) -> RegistryState:
    """A registry state with these tools registered (version 1) and these phrasings."""
    state: dict[str, Any] = {
        "tools": {
            t.name: {
                "active": 1,
                "history": [],
                "versions": {
                    "1": {
                        "status": "registered",
                        "spec": {
                            "description": t.description,
                            "parameters": {
                                "type": "object",
                                "properties": {
                                    k: {"type": "string", "description": v}
                                    for k, v in t.parameters.items()
                                },
                            },
                        },
                        "code": "",
                        "tests": "",
                        "origin": "human",
                        "proposed_at": "2025-01-01T00:00:00+00:00",
                        "report": None,
                        "reason": None,
                    }
                },
            }
            for t in tools
        },
        "stats": {},
        "phrases": phrases if phrases is not None else {},
        "rejected": rejected if rejected is not None else {},
        "revision": 1,
        "phrases_revision": 0,
    }
    return state  # type: ignore[return-value]


def learn(table_: dict[str, dict[str, list[int]]], tool: str, request: str, at: int) -> None:
    """Count one phrasing for a tool: [count, last seen, confirmed by users]."""
    seen = table_.setdefault(tool, {}).setdefault(phrasing(request), [0, 0, 1])
    seen[0] += 1
    seen[1] = max(seen[1], at)


def correct_uses(ds: Dataset, cap: int | None) -> dict[str, dict[str, list[int]]]:
    """The first ``cap`` history requests of each tool (all when None) as confirmed uses."""
    phrases: dict[str, dict[str, list[int]]] = {}
    taken: dict[str, int] = {}
    for at, (request, golds) in enumerate(ds.history):
        for tool in golds:
            if cap is None or taken.get(tool, 0) < cap:
                taken[tool] = taken.get(tool, 0) + 1
                learn(phrases, tool, request, at)
    return phrases


@dataclass
class Replay:
    """The registry tables a replay of the history through the search ends with."""

    phrases: dict[str, dict[str, list[int]]]
    rejected: dict[str, dict[str, list[int]]]
    answered_right: int


def replay(ds: Dataset, *, feedback: bool, batch: int) -> Replay:
    """History through the search: the top-1 tool answers; with ``feedback`` a user rates it
    (good: a confirmed use, bad: a rejected phrasing), without it every answer is learnt."""
    phrases: dict[str, dict[str, list[int]]] = {}
    rejected: dict[str, dict[str, list[int]]] = {}
    state = registry_state(ds.tools, phrases, rejected)
    search = ToolSearch(LexicalEmbedder(), background=False)
    right = 0
    for at, (request, golds) in enumerate(ds.history):
        if at % batch == 0:
            search.refresh(state)
        found = search.ranked(request, POLICIES, k=1)
        if not found:
            continue
        tool = found[0].tool
        good = ds.key(tool) in {ds.key(g) for g in golds}
        right += good
        learn(phrases if good or not feedback else rejected, tool, request, at)
        state["phrases_revision"] += 1
    return Replay(phrases, rejected, right)


# retrievers -------------------------------------------------------------------------------

Ranking = list[list[str]]


def bm25s_rankings(
    ds: Dataset, uses: Mapping[str, Mapping[str, list[int]]], queries: Sequence[str]
) -> Ranking:
    """Plain BM25 (bm25s defaults) over name and description, plus the uses when given."""
    docs = ["\n".join([f"{t.name} {t.description}", *uses.get(t.name, {})]) for t in ds.tools]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(docs, stopwords=None, show_progress=False), show_progress=False)
    tokens = bm25s.tokenize(list(queries), stopwords=None, show_progress=False)
    found, scores = retriever.retrieve(tokens, k=len(docs), show_progress=False)
    return [
        [ds.tools[int(d)].name for d, s in zip(row, score, strict=True) if s > 0]
        for row, score in zip(found, scores, strict=True)
    ]


def selfeng_search(
    ds: Dataset,
    phrases: dict[str, dict[str, list[int]]] | None = None,
    rejected: dict[str, dict[str, list[int]]] | None = None,
) -> ToolSearch:
    """The tool search over a registry state of the set's tools with these tables."""
    search = ToolSearch(LexicalEmbedder(), background=False)
    search.refresh(registry_state(ds.tools, phrases or {}, rejected or {}))
    return search


def selfeng_rankings(search: ToolSearch, queries: Sequence[str], k: int = 100) -> Ranking:
    """The top ``k`` tools the search finds for each request."""
    return [[c.tool for c in search.ranked(q, POLICIES, k=k)] for q in queries]


def metrics(ds: Dataset, rankings: Ranking, relevant: Sequence[set[str]]) -> dict[str, float]:
    """R@1, R@5 and MRR (relevant: the keys that count for each request)."""
    r1 = r5 = mrr = 0.0
    for ranking, wanted in zip(rankings, relevant, strict=True):
        hits = [ds.key(t) in wanted for t in ranking]
        r1 += any(hits[:1])
        r5 += any(hits[:5])
        first = next((i for i, hit in enumerate(hits) if hit), None)
        mrr += 0.0 if first is None else 1.0 / (first + 1)
    n = max(1, len(rankings))
    return {"R@1": r1 / n, "R@5": r5 / n, "MRR": mrr / n}


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


# tables -----------------------------------------------------------------------------------


def quality(ds: Dataset, batch: int) -> tuple[str, dict[str, Any]]:
    """The quality table of one set, and what the other tables reuse."""
    queries = [q for q, _ in ds.unseen]
    relevant = [r for _, r in ds.unseen]
    conditions: list[tuple[str, dict[str, dict[str, list[int]]], dict[str, dict[str, list[int]]]]]
    conditions = [("cold", {}, {})]
    for label, cap in (("5 uses per tool", 5), ("20 uses per tool", 20), ("all uses", None)):
        conditions.append((label, correct_uses(ds, cap), {}))
    fed = replay(ds, feedback=True, batch=batch)
    conditions.append(("feedback traffic", fed.phrases, fed.rejected))
    blind = replay(ds, feedback=False, batch=batch)
    conditions.append(("uncorrected traffic", blind.phrases, {}))
    rows: list[tuple[str, ...]] = []
    kept: dict[str, Any] = {"feedback": fed}
    for label, phrases, rejected in conditions:
        n_uses = sum(sum(v[0] for v in p.values()) for p in phrases.values())
        n_bad = sum(sum(v[0] for v in p.values()) for p in rejected.values())
        uses = f"{n_uses:,}" + (f" (+{n_bad:,} rejected)" if rejected else "")
        search = selfeng_search(ds, phrases, rejected)
        kept[label] = search
        for system, rankings in (
            ("bm25s", bm25s_rankings(ds, {}, queries)),
            ("bm25s + uses", bm25s_rankings(ds, phrases, queries)),
            ("selfeng", selfeng_rankings(search, queries)),
        ):
            if system == "bm25s" and label != "cold":
                continue  # the same in every condition
            m = metrics(ds, rankings, relevant)
            rows.append((label, uses, system, pct(m["R@1"]), pct(m["R@5"]), pct(m["MRR"])))
    header = ("condition", "uses", "retriever", "R@1", "R@5", "MRR")
    return table(rows, header), kept


def repeat_table(sets: list[tuple[Dataset, dict[str, Any]]]) -> str:
    """History requests asked again after the feedback replay."""
    rows: list[tuple[str, ...]] = []
    for ds, kept in sets:
        fed: Replay = kept["feedback"]
        queries = [q for q, _ in ds.history]
        relevant = [{ds.key(g) for g in golds} for _, golds in ds.history]
        cold = metrics(ds, selfeng_rankings(kept["cold"], queries, 1), relevant)["R@1"]
        no_rej = selfeng_search(ds, fed.phrases, {})
        with_rej = kept["feedback traffic"]
        rows.append(
            (
                ds.name,
                f"{len(queries):,}",
                pct(fed.answered_right / max(1, len(queries))),
                pct(cold),
                pct(metrics(ds, selfeng_rankings(no_rej, queries, 1), relevant)["R@1"]),
                pct(metrics(ds, selfeng_rankings(with_rej, queries, 1), relevant)["R@1"]),
            )
        )
    header = (
        "set",
        "requests",
        "right during replay",
        "R@1 cold",
        "R@1 again, confirmed only",
        "R@1 again, + rejected",
    )
    return table(rows, header)


def threshold_table(sets: list[tuple[Dataset, dict[str, Any]]]) -> str:
    """Answered right / wrong and unrelated requests accepted, per threshold."""
    pools = {ds.name: [q for q, _ in ds.unseen] for ds, _ in sets}
    rows: list[tuple[str, ...]] = []
    for ds, kept in sets:
        others = [
            q
            for name, qs in pools.items()
            if name != ds.name and (name == "bfcl") != (ds.name == "bfcl")
            for q in qs
        ]
        random.Random(SEED).shuffle(others)
        others = others[:300]
        for label in ("cold", "all uses"):
            search: ToolSearch = kept[label]
            tops = [search.ranked(q, POLICIES, k=1) for q, _ in ds.unseen]
            foreign = [search.ranked(q, POLICIES, k=1) for q in others]
            for threshold in THRESHOLDS:
                right = wrong = 0
                for found, (_, wanted) in zip(tops, ds.unseen, strict=True):
                    if found and found[0].score >= threshold:
                        if ds.key(found[0].tool) in wanted:
                            right += 1
                        else:
                            wrong += 1
                accepted = sum(1 for f in foreign if f and f[0].score >= threshold)
                n = len(ds.unseen)
                rows.append(
                    (
                        ds.name,
                        label,
                        f"{threshold:.2f}",
                        pct(right / n),
                        pct(wrong / n),
                        pct(1 - (right + wrong) / n),
                        pct(accepted / max(1, len(others))),
                    )
                )
    header = ("set", "condition", "threshold", "right", "wrong", "abstained", "unrelated accepted")
    return table(rows, header)


# speed ------------------------------------------------------------------------------------


def word_pool(data: Path) -> list[str]:
    """Real words, most frequent first, from the descriptions in the shared data sets."""
    text = []
    for line in (data / "gorilla_torchhub" / "torchhub_api.jsonl").open():
        if line.strip():
            api = json.loads(line)
            text.append(f"{api['description']} {api['functionality']} {api['domain']}")
    for path in sorted((data / "bfcl_multi_turn" / "func_doc").glob("*.json")):
        text.append(path.read_text())
    counts: dict[str, int] = {}
    for word in re.findall(r"[a-z]{3,}", " ".join(text).lower()):
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: -counts[w])


def synthetic(pool: list[str], n: int, seed: int = 7) -> tuple[list[Tool], dict[str, Any]]:
    """``n`` tools (a snake_case name, a description, parameters) and their phrasings."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(pool))]

    def words(k: int) -> str:
        return " ".join(rng.choices(pool, weights, k=k))

    tools: list[Tool] = []
    phrases: dict[str, dict[str, list[int]]] = {}
    for i in range(n):
        name = "_".join(rng.choices(pool[50:], k=2)) + f"_{i}"
        params = {
            rng.choice(pool[20:]): words(rng.randint(3, 10)) for _ in range(rng.randint(1, 4))
        }
        tools.append(Tool(name, name, words(rng.randint(8, 25)), params))
        for j in range(rng.choice([0, 0, 1, 3])):
            phrases.setdefault(name, {})[words(rng.randint(4, 12))] = [1, j, 1]
    return tools, phrases


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def speed(data: Path, n_tools: int) -> str:
    """The speed table."""
    pool = word_pool(data)
    tools, phrases = synthetic(pool, n_tools)
    rng = random.Random(11)
    requests = [" ".join(rng.choices(pool[:3000], k=rng.randint(3, 14))) for _ in range(320)]
    policies = default_values()
    rows: list[tuple[str, ...]] = []

    state = registry_state(tools, phrases, {})
    search = ToolSearch(LexicalEmbedder())
    started = time.perf_counter()
    search.refresh(state)
    rows.append(("first build (synchronous), s", f"{time.perf_counter() - started:.2f}"))
    for q in requests[:20]:
        search.search(q, policies)
    times = []
    for q in requests[20:]:
        t = time.perf_counter()
        search.search(q, policies)
        times.append((time.perf_counter() - t) * 1000)
    p50, p95 = p50_p95(times)
    rows.append(("search p50, ms", f"{p50:.2f}"))
    rows.append(("search p95, ms", f"{p95:.2f}"))

    refresh_ms: list[float] = []
    installed_s: list[float] = []
    during: list[float] = []
    for k in range(5):
        learn(phrases, tools[k].name, f"one more learnt phrasing number {k}", 10_000 + k)
        state["phrases_revision"] += 1
        t = time.perf_counter()
        search.refresh(state)
        refresh_ms.append((time.perf_counter() - t) * 1000)
        while search.wait(0.0) is False:  # searches keep being served meanwhile
            s = time.perf_counter()
            search.search(requests[k], policies)
            during.append((time.perf_counter() - s) * 1000)
        installed_s.append(time.perf_counter() - t)
    rows.append(
        ("+1 phrasing: refresh on the request path, ms", f"{statistics.median(refresh_ms):.3f}")
    )
    rows.append(
        ("+1 phrasing: until the new index serves, s", f"{statistics.median(installed_s):.2f}")
    )
    if during:
        rows.append(("search p50 during a rebuild, ms", f"{p50_p95(during)[0]:.2f}"))

    sync = ToolSearch(LexicalEmbedder(), background=False)
    sync.refresh(state)
    blocked = []
    for k in range(3):
        learn(phrases, tools[k].name, f"yet another phrasing {k}", 20_000 + k)
        state["phrases_revision"] += 1
        t = time.perf_counter()
        sync.refresh(state)
        blocked.append(time.perf_counter() - t)
    rows.append(
        (
            "+1 phrasing, synchronous rebuild (before): refresh, s",
            f"{statistics.median(blocked):.2f}",
        )
    )

    new = Tool("brand_new_tool", "brand_new_tool", "a tool registered just now", {})
    state["tools"].update(registry_state([new])["tools"])
    state["revision"] += 1
    t = time.perf_counter()
    search.refresh(state)
    rows.append(("+1 registered tool: refresh (synchronous), s", f"{time.perf_counter() - t:.2f}"))
    return table(rows, (f"{n_tools:,} tools, 2 cores", "value"))


def main() -> None:
    """Run every part and print its tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--docs", type=int, default=10_000, help="synthetic tools for speed")
    parser.add_argument("--batch", type=int, default=10, help="replay: requests per refresh")
    parser.add_argument("--only", default="huggingface,torchhub,bfcl", help="sets to run")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed table")
    args = parser.parse_args()
    loaders = {
        "huggingface": lambda: huggingface(args.data / "gorilla_huggingface"),
        "torchhub": lambda: torchhub(args.data / "gorilla_torchhub"),
        "bfcl": lambda: bfcl(args.data / "bfcl_multi_turn"),
    }
    sets: list[tuple[Dataset, dict[str, Any]]] = []
    for name in args.only.split(","):
        ds = loaders[name]()
        print(
            f"## {ds.name}: {len(ds.tools)} tools, {len(ds.history)} history requests, "
            f"{len(ds.unseen)} unseen\n"
        )
        text, kept = quality(ds, args.batch)
        print(text + "\n", flush=True)
        sets.append((ds, kept))
    print("## Repeat traffic: the history asked again after the feedback replay\n")
    print(repeat_table(sets) + "\n")
    if len(sets) > 1:
        print("## Threshold: unseen requests answered right / wrong, unrelated ones accepted\n")
        print(threshold_table(sets) + "\n")
    if not args.no_speed:
        print("## Speed\n")
        print(speed(args.data, args.docs))


if __name__ == "__main__":
    main()
