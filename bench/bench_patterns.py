"""Pattern mining on real tool-call sequences: BFCL v4 multi-turn, through PatternsProjection.

Run: ``python bench/bench_patterns.py``. The data is read from ``../shared/data/
bfcl_multi_turn`` next to the repository, or from ``$SELFENG_BFCL_DIR``.

A request is one user turn: ``possible_answer.jsonl`` holds, per entry, a list of turns, each
the ground-truth calls (``cd(folder='document')``) that answer one user message, so a turn
is what one RequestCompleted records. The function names of a turn's calls become its steps,
in order, all ok (they are ground truth). Turns without a call (the model only talks) are
skipped: no tool ran. Ids are UUIDv7 in file order, so "most recent" evidence means latest in
the file.

Timed, best of 3 in one process: building the events (pydantic models), folding them with
``PatternsProjection.apply``, folding plus the per-request ``promotable(within=...)`` check a
learner would run after each request, and the same counts (support, antecedents, whole) with
bare ``collections.Counter`` over the tool lists as the baseline.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from selfeng.projections.base import MAIN, FoldContext
from selfeng.projections.patterns import (
    MAX_PATTERN_LENGTH,
    PatternsProjection,
    PatternsState,
    PatternStats,
    pattern_of,
    promotable,
    top,
)
from selfeng.schemas import RequestCompleted, Step, uuid7

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "bfcl_multi_turn"
MIN_FREQUENCY, MIN_SUCCESS_RATE, MIN_CONFIDENCE = 3, 0.8, 0.7
"""The default promotion policy."""
RUNS = 3


def data_dir() -> Path:
    """Where the BFCL multi-turn set is: ``$SELFENG_BFCL_DIR`` or the shared data folder."""
    override = os.environ.get("SELFENG_BFCL_DIR", "").strip()
    return Path(override) if override else DEFAULT_DIR


def load_turns(folder: Path) -> list[list[str]]:
    """The function names of every turn with at least one call, in file order."""
    turns = []
    with (folder / "possible_answer.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            for calls in json.loads(line)["ground_truth"]:
                if calls:
                    turns.append([call.split("(", 1)[0].strip() for call in calls])
    return turns


def build_events(turns: list[list[str]]) -> list[RequestCompleted]:
    """One successful RequestCompleted per turn."""
    return [
        RequestCompleted(
            key=str(uuid7()),
            ok=True,
            answer="ok",
            steps=tuple(Step(query=tool, tool=tool, version=1, ok=True) for tool in tools),
        )
        for tools in turns
    ]


def fold(events: list[RequestCompleted], check: bool = False) -> PatternsState:
    """Fold the events; with ``check``, ask for promotions within each request as it lands."""
    projection = PatternsProjection()
    ctx = FoldContext(MAIN, lambda name: None)
    state = projection.initial()
    for event in events:
        state = projection.apply(state, event, ctx)
        if check:
            promote(state, within=[s.tool for s in event.steps])
    return state


def promote(state: PatternsState, within: list[str] | None = None) -> list[PatternStats]:
    """The patterns the default policy would promote."""
    return promotable(
        state,
        min_frequency=MIN_FREQUENCY,
        min_success_rate=MIN_SUCCESS_RATE,
        min_confidence=MIN_CONFIDENCE,
        within=within,
    )


def bare_counts(turns: list[list[str]]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Support, antecedent and whole counts with Counters: the baseline."""
    support: Counter[str] = Counter()
    antecedents: Counter[str] = Counter()
    whole: Counter[str] = Counter()
    for tools in turns:
        runs = {
            ">".join(tools[i:j])
            for i in range(len(tools))
            for j in range(i + 1, min(i + MAX_PATTERN_LENGTH, len(tools)) + 1)
        }
        support.update(r for r in runs if ">" in r)
        antecedents.update(r for r in runs if r.count(">") < MAX_PATTERN_LENGTH - 1)
        if 2 <= len(tools) <= MAX_PATTERN_LENGTH:
            whole[pattern_of(tools)] += 1
    return support, antecedents, whole


def best(fn: Callable[[], object]) -> float:
    """The shortest of ``RUNS`` timings of ``fn``, in seconds."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def pattern_rows(patterns: list[PatternStats]) -> list[tuple[str, ...]]:
    return [
        (
            p.pattern_id,
            p.kind,
            str(p.support),
            f"{p.success_rate:.2f}",
            f"{p.confidence:.2f}",
        )
        for p in patterns
    ]


def main() -> int:
    folder = data_dir()
    if not (folder / "possible_answer.jsonl").is_file():
        print(
            f"BFCL multi-turn data not found in {folder} (no possible_answer.jsonl).\n"
            "Put the shared data next to the repository (../shared/data/bfcl_multi_turn) "
            "or set SELFENG_BFCL_DIR to the folder.",
            file=sys.stderr,
        )
        return 2
    turns = load_turns(folder)
    events = build_events(turns)
    n = len(events)

    build_s = best(lambda: build_events(turns))
    fold_s = best(lambda: fold(events))
    check_s = best(lambda: fold(events, check=True))
    bare_s = best(lambda: bare_counts(turns))

    state = fold(events)
    support, antecedents, whole = bare_counts(turns)
    assert {p: r["support"] for p, r in state["patterns"].items()} == dict(support)
    assert state["antecedents"] == dict(antecedents)
    assert {p: r["whole"] for p, r in state["patterns"].items() if r["whole"]} == dict(whole)

    every = top(state, len(state["patterns"]))
    kinds = Counter(p.kind for p in every)
    calls = sum(len(t) for t in turns)
    print(f"\nBFCL v4 multi-turn base ({folder}): one request per user turn with calls\n")
    print(
        table(
            [
                ("requests (turns with calls)", str(state["requests"])),
                ("multi-step requests", str(state["multi_step"])),
                ("calls", str(calls)),
                ("distinct functions", str(len({t for ts in turns for t in ts}))),
                ("distinct patterns", str(len(every))),
                *((f"  {kind}", str(kinds[kind])) for kind in ("sequence", "pair", "subsequence")),
                ("patterns with support >= 3", str(sum(p.support >= 3 for p in every))),
            ],
            ("what", "count"),
        )
    )
    print(f"\nTimings, best of {RUNS} ({n} events)\n")
    print(
        table(
            [
                ("build RequestCompleted events", f"{build_s * 1000:.2f}", f"{n / build_s:,.0f}"),
                ("fold PatternsProjection", f"{fold_s * 1000:.2f}", f"{n / fold_s:,.0f}"),
                (
                    "fold + promotable(within=request) per event",
                    f"{check_s * 1000:.2f}",
                    f"{n / check_s:,.0f}",
                ),
                ("bare Counter over runs (baseline)", f"{bare_s * 1000:.2f}", f"{n / bare_s:,.0f}"),
            ],
            ("step", "ms", "events/s"),
        )
    )
    print("\nTop 15 patterns\n")
    print(table(pattern_rows(top(state, 15)), ("pattern", "kind", "support", "success", "conf.")))
    promoted = promote(state)
    print(
        f"\nPromoted under min frequency {MIN_FREQUENCY}, success rate {MIN_SUCCESS_RATE}, "
        f"confidence {MIN_CONFIDENCE}: {len(promoted)}\n"
    )
    print(table(pattern_rows(promoted), ("pattern", "kind", "support", "success", "conf.")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
