"""Tool retrieval: quality on Gorilla's TorchHub set, and speed over 10,000 tool documents.

Run: ``python bench/bench_retrieval.py [--data DIR] [--docs N] [--no-minilm]``. Prints
Markdown tables.

Quality. ``torchhub_api.jsonl`` holds 94 APIs (43 distinct ``api_name`` values: several APIs
share one); ``torchhub_eval.json`` 186 requests, each the ``###Instruction:`` text of its
``code`` field, with the API it needs in ``api_data``. A retrieved API is relevant when its
``api_name`` is the request's. R@k is the share of requests with a relevant API in the top k
(hit rate), nDCG@10 is binary-relevance nDCG over all the APIs of that name, MRR the mean
reciprocal rank of the first relevant API. Each API's document is its name and description.

- ``bm25s baseline``: plain BM25 (``bm25s`` defaults, no stemming or stop words).
- ``lexical``: the default embedder (``selfeng.infra.embed_lexical``) through ``ToolIndex``.
- ``minilm``: all-MiniLM-L6-v2 through ``ToolIndex``, when the ``minilm`` extra is installed.
- usage learning: a fixed split (even positions are history, odd ones are evaluated). Each
  history request's wording is folded into the document of the exact API it used, either
  appended to the document's text (``+ history, appended``) or kept as a text of its own,
  the document scoring its best text (``+ history, own texts``). The other half is evaluated
  with and without the history, so the rows compare on the same requests.

Speed. 10,000 synthetic tool documents (names, descriptions and parameter texts drawn from
the words of the TorchHub and BFCL descriptions with a Zipf law, a third of them with learnt
phrasings), searched with 300 requests after 20 warm-up ones: ``ToolIndex.search`` p50 and
p95 with the query's embedding included, the time to build the index (fit and embed every
document), and the time to rebuild it after one more learnt phrasing. MiniLM runs over the
first 2,000 tools only (``--minilm-docs``): it embeds about 70 documents a second here.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bm25s

from common import table
from selfeng.core.embedder import Embedder
from selfeng.core.search import Documents, ToolIndex
from selfeng.infra.embed_lexical import LexicalEmbedder
from selfeng.infra.embed_minilm import MISSING, MiniLMEmbedder, available

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class TorchHub:
    """The APIs (documents) and the requests with the API each one needs."""

    names: list[str]
    docs: list[str]
    queries: list[str]
    gold_name: list[str]
    gold_doc: list[int]


def load_torchhub(folder: Path) -> TorchHub:
    """Read the TorchHub split as Gorilla ships it (two JSON-lines files)."""
    apis = [json.loads(line) for line in (folder / "torchhub_api.jsonl").open() if line.strip()]
    evals = [json.loads(line) for line in (folder / "torchhub_eval.json").open() if line.strip()]
    by_call = {api["api_call"]: i for i, api in enumerate(apis)}
    queries, gold_name, gold_doc = [], [], []
    for item in evals:
        instruction = item["code"].split("###Output")[0].replace("###Instruction:", "").strip()
        queries.append(instruction)
        gold_name.append(item["api_data"]["api_name"])
        gold_doc.append(by_call[item["api_data"]["api_call"]])
    return TorchHub(
        names=[a["api_name"] for a in apis],
        docs=[f"{a['api_name']} {a['description']}" for a in apis],
        queries=queries,
        gold_name=gold_name,
        gold_doc=gold_doc,
    )


Ranker = Callable[[list[str]], list[list[int]]]
"""Requests -> for each, document indexes best first (documents not returned rank last)."""


def metrics(hub: TorchHub, rankings: list[list[int]], which: Sequence[int]) -> dict[str, float]:
    """R@1, R@5 (hit rates), nDCG@10 and MRR over the requests ``which``."""
    r1 = r5 = ndcg = mrr = 0.0
    for ranking, i in zip(rankings, which, strict=True):
        relevant = [hub.names[d] == hub.gold_name[i] for d in ranking]
        n_relevant = hub.names.count(hub.gold_name[i])
        r1 += any(relevant[:1])
        r5 += any(relevant[:5])
        dcg = sum(1 / math.log2(k + 2) for k, rel in enumerate(relevant[:10]) if rel)
        ideal = sum(1 / math.log2(k + 2) for k in range(min(n_relevant, 10)))
        ndcg += dcg / ideal
        first = next((k for k, rel in enumerate(relevant) if rel), None)
        mrr += 0.0 if first is None else 1 / (first + 1)
    n = len(which)
    return {"R@1": r1 / n, "R@5": r5 / n, "nDCG@10": ndcg / n, "MRR": mrr / n}


def bm25_ranker(docs: list[str]) -> Ranker:
    """Plain BM25 with bm25s's defaults: the issue's baseline."""
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(docs, stopwords=None, show_progress=False), show_progress=False)

    def rank(queries: list[str]) -> list[list[int]]:
        tokens = bm25s.tokenize(queries, stopwords=None, show_progress=False)
        found, _ = retriever.retrieve(tokens, k=len(docs), show_progress=False)
        return [list(map(int, row)) for row in found]

    return rank


def index_ranker(embedder: Embedder, documents: Documents) -> Ranker:
    """The tool index over these documents (ids are the document positions)."""
    index = ToolIndex(embedder, documents)

    def rank(queries: list[str]) -> list[list[int]]:
        return [[int(d) for d, _ in index.search(q, len(documents))] for q in queries]

    return rank


def quality(hub: TorchHub, use_minilm: bool) -> str:
    """The quality table."""
    everyone = list(range(len(hub.queries)))
    history = everyone[0::2]
    held_out = everyone[1::2]
    held_queries = [hub.queries[i] for i in held_out]
    learnt: dict[int, list[str]] = {}
    for i in history:
        learnt.setdefault(hub.gold_doc[i], []).append(hub.queries[i])
    appended = [
        "\n".join([doc, *learnt.get(d, [])]) for d, doc in enumerate(hub.docs)
    ]  # the documents with the history appended
    own_texts: Documents = {str(d): [doc, *learnt.get(d, [])] for d, doc in enumerate(hub.docs)}
    plain: Documents = {str(d): doc for d, doc in enumerate(hub.docs)}
    with_history: Documents = {str(d): doc for d, doc in enumerate(appended)}

    systems: list[tuple[str, Callable[[], Embedder] | None]] = [
        ("bm25s baseline", None),
        ("lexical (default)", LexicalEmbedder),
    ]
    if use_minilm:
        model = MiniLMEmbedder()
        systems.append(("minilm", lambda: model))

    rows: list[tuple[str, ...]] = []

    def add(label: str, split: str, rank: Ranker, queries: list[str], which: list[int]) -> None:
        m = metrics(hub, rank(queries), which)
        rows.append((label, split, *(f"{m[k]:.3f}" for k in ("R@1", "R@5", "nDCG@10", "MRR"))))

    for label, make in systems:
        if make is None:
            add(label, "all 186", bm25_ranker(hub.docs), hub.queries, everyone)
            add(label, "held-out 93", bm25_ranker(hub.docs), held_queries, held_out)
            add(f"{label} + history, appended", "held-out 93", bm25_ranker(appended), held_queries,
                held_out)  # fmt: skip
            continue
        add(label, "all 186", index_ranker(make(), plain), hub.queries, everyone)
        add(label, "held-out 93", index_ranker(make(), plain), held_queries, held_out)
        add(f"{label} + history, appended", "held-out 93", index_ranker(make(), with_history),
            held_queries, held_out)  # fmt: skip
        add(f"{label} + history, own texts", "held-out 93", index_ranker(make(), own_texts),
            held_queries, held_out)  # fmt: skip
    return table(rows, ("retriever", "requests", "R@1", "R@5", "nDCG@10", "MRR"))


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


def synthetic_tools(pool: list[str], n: int, seed: int = 7) -> dict[str, list[str]]:
    """``n`` tool documents: a snake_case name, a description, parameters, some phrasings."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(pool))]

    def words(k: int) -> str:
        return " ".join(rng.choices(pool, weights, k=k))

    docs: dict[str, list[str]] = {}
    for i in range(n):
        name = "_".join(rng.choices(pool[50:], k=2)) + f"_{i}"
        text = [name.replace("_", " "), words(rng.randint(8, 25))]
        for _ in range(rng.randint(1, 4)):
            text += [rng.choice(pool[20:]), words(rng.randint(3, 10))]
        phrases = [words(rng.randint(4, 12)) for _ in range(rng.choice([0, 0, 1, 3]))]
        docs[f"tool_{i:05d}"] = ["\n".join(text), *phrases]
    return docs


def speed(data: Path, n_docs: int, minilm_docs: int) -> str:
    """The speed table (MiniLM over the first ``minilm_docs`` tools; 0 for none)."""
    pool = word_pool(data)
    tools = synthetic_tools(pool, n_docs)
    joined: Documents = {k: "\n".join(v) for k, v in tools.items()}
    rng = random.Random(11)
    requests = [" ".join(rng.choices(pool[:3000], k=rng.randint(3, 14))) for _ in range(320)]
    embedders: list[tuple[str, Embedder, Documents]] = [
        ("lexical", LexicalEmbedder(), joined),
        ("lexical, phrasings as own texts", LexicalEmbedder(), tools),
    ]
    if minilm_docs:
        some = dict(list(joined.items())[:minilm_docs])
        embedders.append(("minilm", MiniLMEmbedder(), some))
    rows: list[tuple[str, ...]] = []
    for label, embedder, docs in embedders:
        index = ToolIndex(embedder)
        started = time.perf_counter()
        index.build(docs)
        build = time.perf_counter() - started
        for q in requests[:20]:
            index.search(q, 10)
        times = []
        for q in requests[20:]:
            t = time.perf_counter()
            index.search(q, 10)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        first = next(iter(docs))
        value = docs[first]
        more: Documents = {
            **docs,
            first: f"{value}\none more learnt phrasing"
            if isinstance(value, str)
            else [*value, "one more learnt phrasing"],
        }
        started = time.perf_counter()
        index.build(more)
        rebuild = time.perf_counter() - started
        rows.append(
            (
                label,
                f"{len(docs):,}",
                f"{statistics.median(times):.2f}",
                f"{times[int(len(times) * 0.95)]:.2f}",
                f"{build:.2f}",
                f"{rebuild:.3f}",
            )
        )
    return table(
        rows,
        ("embedder", "tools", "search p50 ms", "search p95 ms", "build s", "+1 phrasing s"),
    )


def main() -> None:
    """Run both parts and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--docs", type=int, default=10_000, help="synthetic tools for speed")
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM rows")
    parser.add_argument(
        "--minilm-docs", type=int, default=2_000, help="synthetic tools for MiniLM's speed"
    )
    args = parser.parse_args()
    use_minilm = not args.no_minilm and available()
    hub = load_torchhub(args.data / "gorilla_torchhub")
    print(f"## Retrieval quality: Gorilla TorchHub ({len(hub.docs)} APIs, "
          f"{len(hub.queries)} requests)\n")  # fmt: skip
    print(quality(hub, use_minilm))
    if not use_minilm:
        print(f"\n(minilm skipped: {'--no-minilm' if args.no_minilm else MISSING})")
    print(f"\n## Retrieval speed: {args.docs:,} synthetic tools, 2-core machine\n")
    print(speed(args.data, args.docs, min(args.minilm_docs, args.docs) if use_minilm else 0))


if __name__ == "__main__":
    main()
