"""Arm isolation: what a request served by an experiment's arm teaches stays in that arm's
fork until the experiment concludes, and then reaches main only if the arm is kept."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from selfeng.core.log import RecordBatch
from selfeng.core.mapper import append_events
from selfeng.core.positions import GlobalPosition, PartitionPosition
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.log.sqlite import SqliteLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.infra.store.sqlite import SqliteStore
from selfeng.projections import arms
from selfeng.projections.engine import ProjectionEngine
from selfeng.projections.replay import verify
from selfeng.schemas import (
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    FeedbackApplied,
    ForkCreated,
    RequestReceived,
    ToolExecuted,
)


def design(name: str = "e1") -> list[Event]:
    """What ``selfeng experiment start`` appends for a control and a lenient arm."""
    forks = {"control": f"{name}.control", "lenient": f"{name}.lenient"}
    return [
        ForkCreated(fork=forks["control"]),
        ForkCreated(fork=forks["lenient"], policies={"retrieval.threshold": 0.3}),
        ExperimentStarted(
            experiment=name,
            arms=forks,
            split={"control": 0.5, "lenient": 0.5},
            policies={"lenient": {"retrieval.threshold": 0.3}},
        ),
    ]


def ran(text: str, arm: str | None = None) -> ToolExecuted:
    """A deterministic tool's run in a request served by ``arm``: a cache entry to learn."""
    return ToolExecuted(
        key=f"request-{text}",
        tool="to_uppercase",
        version=1,
        arguments={"text": text},
        ok=True,
        result=text.upper(),
        duration_ms=1.0,
        sandbox="subprocess",
        cacheable=True,
        policy_arm=arm,
    )


def cached(engine: ProjectionEngine, fork: str = "main") -> set[Any]:
    """The texts whose results a fork's cache holds."""
    runner = engine.runner(engine.fork(fork))
    runner.catch_up()
    return {entry["value"].lower() for entry in runner.state("cache")["entries"].values()}


def test_each_arm_learns_alone_and_main_learns_from_none() -> None:
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    append_events(log, [*design(), ran("both"), ran("lenient", "e1.lenient")])
    append_events(log, [ran("control", "e1.control"), ran("named main", "main")])
    engine.catch_up()
    assert cached(engine) == {"both", "named main"}
    assert cached(engine, "e1.lenient") == {"both", "named main", "lenient"}
    assert cached(engine, "e1.control") == {"both", "named main", "control"}
    assert all(r.equal for fork in ("main", "e1.lenient") for r in verify(engine, fork))


def test_the_kept_arms_lessons_reach_main_when_the_experiment_concludes() -> None:
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    append_events(log, [*design(), ran("lenient", "e1.lenient"), ran("control", "e1.control")])
    engine.catch_up()
    assert cached(engine) == set()
    append_events(log, [ExperimentConcluded(experiment="e1", winner="lenient")])
    assert cached(engine) == {"lenient"}
    # a request of the experiment answered after its conclusion is read at once
    append_events(log, [ran("late lenient", "e1.lenient"), ran("late control", "e1.control")])
    assert cached(engine) == {"lenient", "late lenient"}
    assert engine.main.state("arm_lessons")["seen"] == {}
    assert all(r.equal for r in verify(engine))


def test_no_winner_keeps_the_controls_lessons() -> None:
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    append_events(log, [*design(), ran("lenient", "e1.lenient"), ran("control", "e1.control")])
    append_events(log, [ExperimentConcluded(experiment="e1", winner=None, reason="max_samples")])
    assert cached(engine) == {"control"}


def test_a_rating_teaches_where_the_answer_taught() -> None:
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    run = ran("rated", "e1.lenient")
    append_events(log, [*design(), run])
    assert cached(engine, "e1.lenient") == {"rated"}
    entry_key = next(iter(engine.runner(engine.fork("e1.lenient")).state("cache")["entries"]))
    bad = FeedbackApplied(
        key=run.key,
        rating="bad",
        feedback_id="f",
        answer_id="a",
        cache_keys=(entry_key,),
        policy_arm="e1.lenient",
    )
    append_events(log, [bad, ExperimentConcluded(experiment="e1", winner="lenient")])
    assert cached(engine, "e1.lenient") == set()
    assert cached(engine) == set()  # released in order: the run, then the rating that undid it


def test_a_fork_created_later_copies_main_and_adopts_what_main_passed_over_for_it() -> None:
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    append_events(log, [ran(f"main {i}") for i in range(20)])
    # a client published requests for the arm before the experiment was started
    append_events(log, [ran("early", "e1.lenient"), ran("other", "e2.x")])
    engine.catch_up()
    append_events(log, design())
    engine.catch_up()
    lenient = engine.runner(engine.fork("e1.lenient"))
    assert lenient.rebuilt == {}  # copied, not refolded
    assert cached(engine, "e1.lenient") == {f"main {i}" for i in range(20)} | {"early"}
    assert set(lenient.state("arm_lessons")["seen"]) == {"e2.x"}
    assert all(r.equal for r in verify(engine, "e1.lenient"))  # equal to a fold from 0


def test_an_arm_holds_nothing_of_its_siblings_and_a_fork_outside_the_experiment_does() -> None:
    """An arm's fork is dropped when its experiment concludes, so its sibling arms' lessons,
    which only that conclusion could release, are not held for it (before or after the
    start); a fork outside the experiment holds them."""
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    append_events(log, [ForkCreated(fork="manual"), ran("early", "e1.lenient")])
    engine.catch_up()
    engine.runner(engine.fork("manual")).catch_up()
    append_events(log, [*design(), ran("lenient", "e1.lenient"), ran("control", "e1.control")])
    engine.catch_up()

    def held(fork: str) -> set[str]:
        """What a conclusion could release into ``fork``: the events it noted, read back."""
        runner = engine.runner(engine.fork(fork))
        runner.catch_up()
        seen = runner.state("arm_lessons")["seen"]
        types = arms.ArmLessonsProjection.armed_only
        return {
            str(cast(ToolExecuted, event).arguments["text"])
            for arm, since in seen.items()
            for event in arms.arm_events(log, arm, since, runner.position, types)
        }

    assert held("e1.control") == set()
    assert held("e1.lenient") == set()
    assert held("manual") == {"early", "lenient", "control"}
    assert held("main") == {"early", "lenient", "control"}
    assert all(r.equal for f in ("e1.control", "manual") for r in verify(engine, f))
    append_events(log, [ExperimentConcluded(experiment="e1", winner="lenient")])
    assert cached(engine, "manual") == {"early", "lenient"}
    assert cached(engine) == {"early", "lenient"}


def test_an_arm_passes_over_its_siblings_requests_and_counts_them_as_a_fold_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request path's events for one arm are passed over by its sibling arm's fork
    (nothing there learns from them), not folded; what any fork or projection then holds,
    and how many events each counts, equal a fold from the log's start."""
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    append_events(log, [*design(), ForkCreated(fork="manual")])
    engine.catch_up()
    runners = [engine.main, *(engine.runner(engine.fork(f)) for f in ("e1.control", "manual"))]
    control = runners[1]
    folded: list[int] = []
    fold = control.fold

    def counted(batch: RecordBatch, known: Mapping[bytes, Event] | None = None) -> int:
        folded.append(1)
        return fold(batch, known)

    monkeypatch.setattr(control, "fold", counted)

    def appended(*events: Event) -> None:
        """As ``Selfeng.append`` does: appended, then folded by every live runner."""
        stored = append_events(log, list(events))
        for runner in runners:
            assert runner.fold_appended(stored, events)

    for runner in runners:
        runner.catch_up()
    appended(ran("lenient", "e1.lenient"), ran("lenient again", "e1.lenient"))
    # with the request's other events, which nothing in the fork folds (the request path
    # appends them in the same batches), and such events alone, of any arm
    asked = RequestReceived(key="request-asked", prompt="uppercase asked", policy_arm="e1.lenient")
    appended(asked, ran("asked", "e1.lenient"))
    appended(RequestReceived(key="request-plain", prompt="uppercase plain"))
    assert folded == []  # another arm's request: passed over
    appended(ran("control", "e1.control"))
    appended(ran("main line"))
    appended(ran("mixed", "e1.lenient"), ran("main line too"))
    assert folded == [1, 1, 1]
    assert cached(engine, "e1.control") == {"control", "main line", "main line too"}
    assert control.position == engine.main.position
    results = [r for fork in ("main", "e1.control", "manual") for r in verify(engine, fork)]
    assert all(r.equal and r.live_events == r.replayed_events for r in results), [
        r for r in results if not r.equal or r.live_events != r.replayed_events
    ]
    # once the sibling is kept, its lessons are the fork's too: folded, not passed over
    appended(ExperimentConcluded(experiment="e1", winner="lenient"))
    appended(ran("late lenient", "e1.lenient"))
    assert folded == [1, 1, 1, 1, 1]


def test_held_lessons_are_kept_across_a_restart(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.db")
    store = SqliteStore(tmp_path / "store.db")
    engine = ProjectionEngine(log, store)
    append_events(log, [*design(), ran("lenient", "e1.lenient"), ran("kept", None)])
    engine.catch_up()
    assert store.load("e1.lenient", "cache") is None  # a fork stores only its policies
    store.close()
    store = SqliteStore(tmp_path / "store.db")
    again = ProjectionEngine(log, store)
    assert again.main.rebuilt == {}
    assert cached(again, "e1.lenient") == {"kept", "lenient"}  # derived again from main
    append_events(log, [ExperimentConcluded(experiment="e1", winner="lenient")])
    assert cached(again) == {"kept", "lenient"}
    assert all(r.equal for r in verify(again))
    store.close()
    log.close()


def test_the_result_does_not_depend_on_how_keys_interleave() -> None:
    """On Kafka, events of different keys interleave differently from run to run: an arm's
    request folded before or after its experiment's conclusion gives the same state."""
    streams: list[list[Event]] = [
        design()[:1],
        design()[1:2],
        [design()[2], ExperimentConcluded(experiment="e1", winner="lenient")],
    ]
    for i in range(4):
        for prefix, arm in (("l", "e1.lenient"), ("c", "e1.control"), ("m", None)):
            streams.append([ran(f"{prefix}{i}", arm), ran(f"{prefix}{i}b", arm)])
    results = []
    for seed in range(12):
        rnd = random.Random(seed)
        queues = [list(s) for s in streams]
        order: list[Event] = []
        while any(queues):
            queue = rnd.choice([q for q in queues if q])
            order.append(queue.pop(0))  # the order within a key is kept
        log = MemoryLog()
        engine = ProjectionEngine(log, MemoryStore())
        append_events(log, order)
        results.append(cached(engine))
    expected = {f"{p}{i}{b}" for p in "lm" for i in range(4) for b in ("", "b")}
    assert all(r == expected for r in results)


def test_an_arms_events_are_not_copied_only_where_they_start() -> None:
    """The log holds an undecided arm's events: the fold notes only the first offset of
    each partition that holds one, so its state does not grow with them."""
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    stored = append_events(log, [ran(f"never concluded {i}", "nosuch") for i in range(5)])
    first = {f"{stored[0].topic}:{stored[0].partition}": stored[0].offset}
    assert engine.state("arm_lessons")["seen"] == {"nosuch": first}
    append_events(log, [ran(f"never concluded {i}", "nosuch") for i in range(5, 50)])
    assert engine.state("arm_lessons")["seen"] == {"nosuch": first}


def test_start_of_reads_only_the_partitions_an_arm_was_seen_in() -> None:
    until = PartitionPosition({("requests", 0): 9, ("requests", 1): 4, ("tools", 0): 7})
    start = arms.start_of({"requests:1": 2}, until)
    assert start == PartitionPosition({("requests", 0): 9, ("requests", 1): 2, ("tools", 0): 7})
    assert arms.start_of({"requests:0": 5, "tools:0": 3}, GlobalPosition(12)) == GlobalPosition(2)
    assert arms.start_of({}, until) is None


def test_only_the_first_conclusion_decides() -> None:
    log = MemoryLog()
    engine = ProjectionEngine(log, MemoryStore())
    append_events(log, [*design(), ran("lenient", "e1.lenient"), ran("control", "e1.control")])
    append_events(log, [ExperimentConcluded(experiment="e1", winner="lenient")])
    append_events(log, [ExperimentConcluded(experiment="e1", winner=None, reason="stop")])
    append_events(log, [ran("late lenient", "e1.lenient"), ran("late control", "e1.control")])
    assert cached(engine) == {"lenient", "late lenient"}


def test_a_fold_passes_over_unarmed_events_of_its_armed_only_types() -> None:
    """``armed_only`` lets the fold loop skip a call: sound only if such an event changes
    nothing, in any state (here with an experiment running and an event held)."""
    from selfeng.projections.base import MAIN, FoldContext, Projection
    from selfeng.projections.catalog import default_projections
    from selfeng.schemas import CacheHit, RequestCompleted, Step

    step = Step(query="q", tool="t", version=1, ok=True)
    unarmed: dict[str, Event] = {
        "ToolExecuted": ToolExecuted(
            key="r", tool="t", version=1, ok=True, duration_ms=1, sandbox="s"
        ),
        "CacheHit": CacheHit(key="r", tool="t", version=1, cache_key="k"),
        "RequestCompleted": RequestCompleted(key="r", ok=True, answer="a", steps=(step,)),
        "FeedbackApplied": FeedbackApplied(
            key="r",
            rating="bad",
            feedback_id="f",
            answer_id="a",
            steps=(step,),
            before=("learnt",),
            after=("rejected",),
        ),
    }
    armed = ToolExecuted(key="q", tool="t", version=1, ok=True, duration_ms=1, sandbox="s",
                         policy_arm="e1.lenient")  # fmt: skip
    ctx = FoldContext(MAIN, lambda name: None)
    checked = 0
    for projection in default_projections(MAIN):
        if not isinstance(projection, Projection) or not projection.armed_only:
            continue
        state = projection.initial()
        for event in [*design(), armed]:
            if event.type in projection.type_names():
                state = projection.apply(state, event, ctx)
        before = orjson.dumps(projection.dump(state), option=orjson.OPT_SORT_KEYS)
        for type_name in projection.armed_only:
            state = projection.apply(state, unarmed[type_name], ctx)
            checked += 1
        assert orjson.dumps(projection.dump(state), option=orjson.OPT_SORT_KEYS) == before
    assert checked == 5  # arm_lessons: four types; experiments: RequestCompleted
