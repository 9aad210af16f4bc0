"""How often requests need the LLM, and how often they are answered right: BFCL multi-turn.

Every BFCL v4 multi-turn function (``shared/data/bfcl_multi_turn/func_doc``; 153 names) is
registered as a selfeng tool (``bench/bfcl.py``: a generated tool file per function whose
body only returns a record of the call) in a fresh embedded home (SQLite log and store, the
default sandbox, the starter library not seeded). The app's LLM is an ``OpenAIChat`` on the
local scripted server of the tests (``tests/llm_server.py``), answering as an *oracle*: it
finds the user turn in the planning request's user message and calls that turn's
ground-truth functions (``possible_answer.jsonl``) as tool calls. A ground-truth function the
handler did not offer (it offers at most ``llm.max_tools``) is left out of the oracle's
calls; when none was offered the oracle calls nothing and says so. A turn whose ground truth
is empty is answered with no call ("nothing to call"); it is right when nothing runs.

Every user turn is one request through ``Agent.ask``, one session per BFCL entry, all
through one home (a stream). Per request: whether the LLM was asked to plan (an
``LLMCalled`` of purpose ``planning`` for the request), how it was answered (a learnt plan,
``extractor == "template"``; the LLM's plan; the handler's own offline decision; or no call
ran), and whether the calls that ran (``ToolExecuted`` / ``CacheHit``) are the turn's
ground truth: the same calls in the same order, each the same function with the same
arguments once omitted optional arguments take their defaults and numbers compare as floats
(``seq``); the ``set`` column ignores order.

Streams (``--streams``; each a fresh home):

- ``ordered32``: file order, the default ``llm.max_tools`` (32);
- ``ordered``: file order, ``llm.max_tools`` = every registered tool (153);
- ``shuffled`` (``shuffled32``): the entries in a seeded random order, every tool offered
  (32); each entry's turns stay in order, so follow-ups keep their context (``--shuffle
  turns`` shuffles single turns instead);
- ``oracle`` (``oracle32``): file order with the ``plans`` projection left out of the home,
  so no learnt plan is ever used: the LLM-answered requests score the oracle itself through
  selfeng;
- ``cold``: the handler's own offline decision on each turn alone, in a home with the tools
  and nothing else (no LLM, no session, nothing appended, so nothing learnt between turns).

``cost.max_tokens_per_request`` is raised to 100,000 in every home (a planning prompt
offering all 153 tools is estimated at about 19,000 tokens, one offering 32 at about 5,000;
the table says what the prompts measured). The synthesizer learner is left out (the oracle
cannot write tools); the other default learners run. Timings are of this machine, with the
scripted LLM answering in a few ms.

Usage: ``python bench/bench_llm_planning.py [--limit N] [--streams ordered32,cold]
[--shuffle entries|turns] [--seed S] [--show wrong|own|none|...]``; ``--limit N`` uses the
first N entries.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.llm_server import Reply, ScriptedLLMServer, serve

import bfcl
from common import table
from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.catalog import default_learners
from selfeng.core import backends
from selfeng.core.llm import estimate_prompt_tokens
from selfeng.core.mapper import from_record
from selfeng.core.settings import Settings
from selfeng.core.tooldef import parse_tool
from selfeng.projections.base import AnyProjection, ForkSpec
from selfeng.projections.catalog import ProjectionFactory, default_projections
from selfeng.schemas import (
    ArgumentsExtracted,
    CacheHit,
    LLMCalled,
    PolicyChanged,
    RequestCompleted,
    RequestReceived,
    ToolExecuted,
)

MAX_TOKENS = 100_000
"""``cost.max_tokens_per_request`` in every home of this benchmark."""
LEARN_AT = 0.95
"""``learning.min_confidence`` (default): an answer at least this confident teaches at once."""
PREVIOUS = "\n\n(The previous answer in this conversation was:"
"""How the planner appends a session's previous answer to the user message."""


# -- the oracle -------------------------------------------------------------------------------


@dataclass
class Note:
    """What the oracle did for one planning request."""

    turn: bfcl.Turn | None
    offered: int
    missing: list[str]  # ground-truth functions that were not offered
    called: int


@dataclass
class Oracle:
    """Answers planning requests with the ground truth of the turn it finds in them."""

    known: dict[str, bfcl.Function]
    turns: Sequence[bfcl.Turn]
    current: bfcl.Turn | None = None
    notes: list[Note] = field(default_factory=list)
    other: int = 0  # requests that offered no functions (not planning)
    ambiguous: int = 0  # texts of several turns with different ground truths
    by_text: dict[str, list[bfcl.Turn]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for turn in self.turns:
            self.by_text.setdefault(turn.text.strip(), []).append(turn)

    def find(self, user: str) -> bfcl.Turn | None:
        """The turn a user message asks, by its text (the one being asked, when several
        turns have that text)."""
        found = self.by_text.get(user.split(PREVIOUS)[0].strip(), [])
        if len({tuple(map(str, t.calls)) for t in found}) > 1:
            self.ambiguous += 1
        if self.current is not None and self.current in found:
            return self.current
        return found[0] if found else None

    def __call__(self, body: dict[str, Any]) -> Reply:
        offered = {t["function"]["name"] for t in body.get("tools") or []}
        if not offered:
            self.other += 1
            return Reply("This oracle only plans with tool calls.")
        user = next(
            (str(m.get("content", "")) for m in body["messages"] if m.get("role") == "user"), ""
        )
        turn = self.find(user)
        if turn is None:
            self.notes.append(Note(None, len(offered), [], 0))
            return Reply("I do not know this request.")
        calls = [c for c in turn.calls if self.known[c.name].tool in offered]
        missing = sorted({c.name for c in turn.calls if self.known[c.name].tool not in offered})
        self.notes.append(Note(turn, len(offered), missing, len(calls)))
        if not turn.calls:
            return Reply("Nothing to call: the request needs no function.")
        if not calls:
            return Reply(f"No offered function does this: {', '.join(missing)} is not offered.")
        return Reply(None, tool_calls=[(self.known[c.name].tool, c.arguments) for c in calls])


# -- one stream -------------------------------------------------------------------------------


@dataclass
class Result:
    """One request of a stream."""

    turn: bfcl.Turn
    llm: bool  # the LLM was asked to plan it
    how: str  # template | llm | own | none
    made: list[bfcl.Call]
    seq: bool  # the ground truth, in order
    set: bool  # the ground truth, in any order
    ms: float
    ok: bool
    text: str
    confidence: float
    failed_runs: int = 0
    prompt_tokens: int = 0  # estimated, of the planning call
    missing: list[str] = field(default_factory=list)  # not offered to the LLM
    offered: int = 0


@dataclass
class Stream:
    """A stream's results and timings."""

    name: str
    results: list[Result]
    seconds: float
    register_s: float
    tools: int
    rejected: list[str]
    oracle_other: int
    ambiguous: int
    unknown: int = 0
    log_mb: float = 0.0


def without_plans(fork: ForkSpec) -> list[AnyProjection]:
    """Every default projection but ``plans``: no learnt plan is ever used."""
    return [p for p in default_projections(fork) if p.name != "plans"]


def open_home(home: str, server: ScriptedLLMServer, projections: ProjectionFactory) -> Selfeng:
    """A fresh embedded home on the scripted server, without the synthesizer."""
    settings = Settings.resolve(home=home, env={})
    settings.home.mkdir(parents=True, exist_ok=True)
    log = backends.open_log(settings.log_url)
    store = backends.open_store(settings.store_url)
    return Selfeng(
        log,
        store,
        settings=settings,
        projections=projections,
        llm=server.llm(timeout=30.0),
        learners=lambda ports: [x for x in default_learners(ports) if x.name != "synthesizer"],
    )


def register(app: Selfeng, known: dict[str, bfcl.Function]) -> list[str]:
    """Register every BFCL function as a tool; the names rejected."""
    rejected = []
    for fn in known.values():
        events = app.add_tool(parse_tool(bfcl.tool_source(fn), fn.tool))
        if not any(e.type == "ToolRegistered" for e in events):
            rejected.append(fn.name)
    return rejected


def examine(
    app: Selfeng, request_id: str, by_tool: dict[str, bfcl.Function]
) -> tuple[bool, str, list[bfcl.Call], int, int]:
    """(LLM asked to plan, how answered, calls made, failed runs, planning prompt tokens)."""
    llm = False
    tokens = 0
    extractors: list[str] = []
    made: list[bfcl.Call] = []
    failed = 0
    for record in app.log.stream(request_id):
        event = from_record(record)
        if isinstance(event, LLMCalled) and event.purpose == "planning":
            llm = True
            tokens = max(tokens, estimate_prompt_tokens(event.messages, event.tools))
        elif isinstance(event, ArgumentsExtracted):
            extractors.append(event.extractor)
        elif isinstance(event, ToolExecuted):
            if not event.ok:
                failed += 1
                continue
            fn = by_tool.get(event.tool)
            made.append(bfcl.Call(fn.name if fn else event.tool, dict(event.arguments)))
        elif isinstance(event, CacheHit):
            result = event.result if isinstance(event.result, dict) else {}
            arguments = result.get("arguments")
            fn = by_tool.get(event.tool)
            made.append(
                bfcl.Call(
                    fn.name if fn else event.tool,
                    dict(arguments) if isinstance(arguments, dict) else {},
                )
            )
    if "template" in extractors:
        how = "template"
    elif any(x.startswith("llm") for x in extractors):
        how = "llm"
    elif made or failed:
        how = "own"
    else:
        how = "none"
    return llm, how, made, failed, tokens


def run_stream(
    name: str,
    server: ScriptedLLMServer,
    known: dict[str, bfcl.Function],
    entries: list[list[bfcl.Turn]],
    order: list[bfcl.Turn],
    *,
    max_tools: int | None,
    projections: ProjectionFactory = default_projections,
) -> Stream:
    """Ask every turn of ``order`` through one fresh home; each entry is a session."""
    by_tool = {fn.tool: fn for fn in known.values()}
    oracle = Oracle(known, [t for e in entries for t in e])
    server.respond(oracle)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as home:
        app = open_home(home, server, projections)
        with Agent(app, client="bench", seed=False) as agent:
            started = time.perf_counter()
            rejected = register(app, known)
            register_s = time.perf_counter() - started
            tools = len(known) - len(rejected)
            changes = [
                PolicyChanged(name="cost.max_tokens_per_request", value=MAX_TOKENS, reason="bench")
            ]
            if max_tools is not None:
                changes.append(PolicyChanged(name="llm.max_tools", value=max_tools, reason="bench"))
            app.append(changes)
            started = time.perf_counter()
            for turn in order:
                oracle.current = turn
                before = len(oracle.notes)
                answer = agent.ask(turn.text, session_id=f"{name}:{turn.entry}")
                llm, how, made, failed, tokens = examine(app, answer.request_id, by_tool)
                note = oracle.notes[-1] if len(oracle.notes) > before else None
                results.append(
                    Result(
                        turn=turn,
                        llm=llm,
                        how=how,
                        made=made,
                        seq=bfcl.same_calls(made, turn.calls, known),
                        set=bfcl.same_call_set(made, turn.calls, known),
                        ms=answer.timings["total"],
                        ok=answer.ok,
                        text=answer.text,
                        confidence=answer.confidence,
                        failed_runs=failed,
                        prompt_tokens=tokens,
                        missing=note.missing if note else [],
                        offered=note.offered if note else 0,
                    )
                )
            seconds = time.perf_counter() - started
        log_mb = sum(f.stat().st_size for f in Path(home).glob("log.db*")) / 1e6
    server.respond(None)
    return Stream(
        name,
        results,
        seconds,
        register_s,
        tools,
        rejected,
        oracle.other,
        oracle.ambiguous,
        sum(1 for note in oracle.notes if note.turn is None),
        log_mb,
    )


def split(stream: Stream, at: int) -> tuple[Stream, Stream]:
    """A stream of two passes, as two streams: the first ``at`` requests, then the rest."""
    ratio = at / max(len(stream.results), 1)
    first = replace(
        stream, name="ordered, first pass, max_tools 32", results=stream.results[:at],
        seconds=stream.seconds * ratio,
    )  # fmt: skip
    second = replace(
        stream, name="the same turns with new values, max_tools 32",
        results=stream.results[at:], seconds=stream.seconds * (1 - ratio),
    )  # fmt: skip
    return first, second


def cold_pass(known: dict[str, bfcl.Function], order: Sequence[bfcl.Turn]) -> Stream:
    """The handler's own offline decision on every turn alone: a home with the tools and no
    history, no LLM, no session, nothing appended (so nothing is learnt between turns)."""
    by_tool = {fn.tool: fn for fn in known.values()}
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.resolve(home=home, env={})
        settings.home.mkdir(parents=True, exist_ok=True)
        log = backends.open_log(settings.log_url)
        store = backends.open_store(settings.store_url)
        with Selfeng(log, store, settings=settings, llm=None, learners=lambda _: []) as app:
            started = time.perf_counter()
            rejected = register(app, known)
            register_s = time.perf_counter() - started
            state = app.handler_state()
            started = time.perf_counter()
            for turn in order:
                asked = time.perf_counter()
                events = app.handler.handle(
                    RequestReceived(prompt=turn.text, client="bench"), state
                )
                ms = (time.perf_counter() - asked) * 1000
                made = [
                    bfcl.Call(by_tool[e.tool].name, dict(e.arguments))
                    for e in events
                    if isinstance(e, ToolExecuted) and e.ok
                ]
                failed = sum(1 for e in events if isinstance(e, ToolExecuted) and not e.ok)
                completed = events[-1]
                assert isinstance(completed, RequestCompleted)
                results.append(
                    Result(
                        turn=turn,
                        llm=False,
                        how="own" if made or failed else "none",
                        made=made,
                        seq=bfcl.same_calls(made, turn.calls, known),
                        set=bfcl.same_call_set(made, turn.calls, known),
                        ms=ms,
                        ok=completed.ok,
                        text=completed.answer,
                        confidence=completed.confidence,
                        failed_runs=failed,
                    )
                )
            seconds = time.perf_counter() - started
    return Stream(
        "cold offline pass",
        results,
        seconds,
        register_s,
        len(known) - len(rejected),
        rejected,
        0,
        0,
    )


# -- tables -----------------------------------------------------------------------------------


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part})" if whole else "-"


def share_rows(stream: Stream) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    n = len(stream.results)
    segments: list[tuple[str, list[Result]]] = [
        ("first 100", stream.results[:100]),
        ("last 100", stream.results[-100:]),
        ("all", stream.results),
    ]
    if n <= 100:
        segments = [("all", stream.results)]
    for segment, results in segments:
        hows = Counter(r.how for r in results)
        rows.append(
            (
                stream.name,
                segment,
                str(len(results)),
                pct(sum(r.llm for r in results), len(results)),
                pct(hows["template"], len(results)),
                pct(hows["own"], len(results)),
                pct(hows["none"], len(results)),
                pct(sum(r.seq for r in results), len(results)),
                pct(sum(r.set for r in results), len(results)),
            )
        )
    return rows


def by_how_rows(stream: Stream) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    labels: dict[tuple[str, bool | None], str] = {
        ("template", None): "offline: learnt plan",
        ("own", None): "offline: handler's own decision",
        ("llm", None): "LLM's plan",
        ("none", True): "no call ran: the LLM made none",
        ("none", False): "no call ran: declined before the LLM",
    }
    for (how, asked), label in labels.items():
        results = [r for r in stream.results if r.how == how and (asked is None or r.llm == asked)]
        if not results:
            continue
        rows.append(
            (
                stream.name,
                label,
                str(len(results)),
                pct(sum(r.seq for r in results), len(results)),
                pct(sum(r.set for r in results), len(results)),
            )
        )
    return rows


def offered_rows(stream: Stream) -> list[tuple[str, ...]]:
    planned = [r for r in stream.results if r.llm]
    short = [r for r in planned if r.missing]
    none_offered = [r for r in short if not any(c.name not in r.missing for c in r.turn.calls)]
    tokens = [r.prompt_tokens for r in planned] or [0]
    offered = [r.offered for r in planned] or [0]
    return [
        (
            stream.name,
            str(len(planned)),
            f"{statistics.mean(offered):.0f}",
            pct(len(short), len(planned)),
            str(len(none_offered)),
            f"{statistics.median(tokens):,.0f}",
            f"{max(tokens):,}",
        )
    ]


def own_rows(stream: Stream) -> list[tuple[str, ...]]:
    own = [r for r in stream.results if r.how == "own"]
    first, last = stream.results[:100], stream.results[-100:]
    confidences = [r.confidence for r in own] or [0.0]
    return [
        (
            stream.name,
            str(sum(r.how == "own" for r in first)),
            str(sum(r.how == "own" for r in last)),
            str(len(own)),
            pct(sum(r.seq for r in own), len(own)),
            pct(sum(r.confidence >= LEARN_AT for r in own), len(own)),
            f"{statistics.median(confidences):.2f}",
        )
    ]


def timing_rows(stream: Stream) -> list[tuple[str, ...]]:
    def p50(how: str) -> str:
        values = [r.ms for r in stream.results if r.how == how]
        return f"{statistics.median(values):.1f}" if values else "-"

    def p50_of(results: list[Result]) -> str:
        return f"{statistics.median(r.ms for r in results):.1f}" if results else "-"

    n = len(stream.results)
    return [
        (
            stream.name,
            f"{stream.tools} in {stream.register_s:.1f} s",
            str(n),
            f"{stream.seconds:.1f}",
            f"{n / stream.seconds:.1f}" if stream.seconds else "-",
            f"{stream.log_mb:.1f}" if stream.log_mb else "-",
            p50_of(stream.results[:100]),
            p50_of(stream.results[-100:]),
            p50("llm"),
            p50("template"),
            p50("own"),
            p50("none"),
        )
    ]


def show(stream: Stream, which: str, known: dict[str, bfcl.Function]) -> None:
    print(f"\n{stream.name}: requests ({which})")
    for r in stream.results:
        if which == "wrong" and r.seq:
            continue
        if which in {"template", "own", "llm", "none"} and r.how != which:
            continue
        mark = f"{r.how}{', right' if r.seq else ''}, confidence {r.confidence:.2f}"
        print(f"- [{mark}] {r.turn.entry}#{r.turn.index}: {r.turn.text}")
        print(f"    expected: {'; '.join(map(str, r.turn.calls)) or '(none)'}")
        print(f"    made:     {'; '.join(map(str, r.made)) or '(none)'}")
        if r.missing:
            print(f"    not offered: {', '.join(r.missing)}")
        if not r.made:
            print(f"    answer:   {r.text[:300]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use the first N entries")
    parser.add_argument("--seed", type=int, default=7, help="the shuffled stream's seed")
    parser.add_argument("--shuffle", choices=["entries", "turns"], default="entries")
    parser.add_argument(
        "--show",
        choices=["wrong", "template", "own", "llm", "none", "all"],
        default=None,
        help="list these requests of each stream",
    )
    parser.add_argument(
        "--streams",
        default="ordered32,ordered,shuffled,oracle,repeat32,cold",
        help="comma-separated: ordered32, ordered, shuffled32, shuffled, oracle32, oracle, "
        "repeat32, cold",
    )
    args = parser.parse_args()

    known = bfcl.functions()
    entries = bfcl.entries(known=known)[: args.limit]
    turns = [t for e in entries for t in e]
    empty = sum(1 for t in turns if not t.calls)
    print(
        f"{len(entries)} BFCL entries, {len(turns)} user turns ({empty} with no ground-truth "
        f"call), {sum(len(t.calls) for t in turns)} calls of "
        f"{len({c.name for t in turns for c in t.calls})} functions; {len(known)} functions "
        f"registered as tools; cost.max_tokens_per_request = {MAX_TOKENS:,}"
    )
    rng = random.Random(args.seed)
    if args.shuffle == "entries":
        shuffled_entries = list(entries)
        rng.shuffle(shuffled_entries)
        shuffled = [t for e in shuffled_entries for t in e]
    else:
        shuffled = list(turns)
        rng.shuffle(shuffled)
    everything = len(known)
    variants = [bfcl.with_new_values(t) for t in turns]
    plans: Callable[[ForkSpec], Sequence[AnyProjection]] = default_projections
    configs: dict[str, tuple[str, list[bfcl.Turn], int | None, ProjectionFactory]] = {
        "ordered32": ("ordered, max_tools 32", turns, None, plans),
        "ordered": ("ordered, all tools", turns, everything, plans),
        "shuffled32": (f"shuffled {args.shuffle}, max_tools 32", shuffled, None, plans),
        "shuffled": (f"shuffled {args.shuffle}, all tools", shuffled, everything, plans),
        "oracle32": ("oracle, max_tools 32", turns, None, without_plans),
        "oracle": ("oracle, all tools", turns, everything, without_plans),
        "repeat32": ("ordered, then new values, max_tools 32", turns + variants, None, plans),
    }
    streams: list[Stream] = []
    with serve() as server:
        for key in args.streams.split(","):
            if key.strip() == "cold":
                stream = cold_pass(known, turns)
                label = stream.name
            else:
                label, order, max_tools, projections = configs[key.strip()]
                stream = run_stream(
                    label,
                    server,
                    known,
                    [*entries, variants],
                    order,
                    max_tools=max_tools,
                    projections=projections,
                )
                if key.strip() == "repeat32":  # report each pass as a stream of its own
                    first, second = split(stream, len(turns))
                    streams.append(first)
                    stream = second
            print(f"  {label}: {len(stream.results)} requests in {stream.seconds:.1f} s")
            if stream.rejected:
                print(f"  rejected tools: {', '.join(stream.rejected)}")
            streams.append(stream)

    print("\n### Requests that needed the LLM, and accuracy\n")
    print(
        table(
            [row for s in streams for row in share_rows(s)],
            (
                "stream",
                "requests",
                "n",
                "LLM asked",
                "learnt plan",
                "own decision",
                "no call ran",
                "right (seq)",
                "right (set)",
            ),
        )
    )
    print("\n### Accuracy by how the request was answered\n")
    print(
        table(
            [row for s in streams for row in by_how_rows(s)],
            ("stream", "answered by", "n", "right (seq)", "right (set)"),
        )
    )
    print("\n### The handler's own offline decisions (confidence >= answer.min_confidence)\n")
    print(
        table(
            [row for s in streams for row in own_rows(s)],
            (
                "stream",
                "in first 100",
                "in last 100",
                "all",
                "right (seq)",
                f"confidence >= {LEARN_AT} (learnt at once)",
                "confidence p50",
            ),
        )
    )
    print("\n### The LLM's view: functions offered, ground truth not offered, prompt size\n")
    print(
        table(
            [row for s in streams if s.name != "cold offline pass" for row in offered_rows(s)],
            (
                "stream",
                "planning calls",
                "offered (mean)",
                "a ground-truth function not offered",
                "none offered",
                "prompt tokens p50 (est.)",
                "max",
            ),
        )
    )
    print("\n### Timings (local scripted LLM: its latency is a few ms, not a real model's)\n")
    print(
        table(
            [row for s in streams for row in timing_rows(s)],
            (
                "stream",
                "tools registered",
                "requests",
                "seconds",
                "requests/s",
                "log MB",
                "p50 ms first 100",
                "last 100",
                "p50 ms LLM",
                "p50 ms learnt plan",
                "p50 ms own",
                "p50 ms no call",
            ),
        )
    )
    print()
    for s in streams:
        if s.name != "cold offline pass":
            print(
                f"{s.name}: the oracle met {s.unknown} planning requests it could not find, "
                f"{s.ambiguous} texts of several turns, {s.oracle_other} non-planning calls"
            )
    if args.show:
        for s in streams:
            show(s, args.show, known)
    return 0


if __name__ == "__main__":
    sys.exit(main())
