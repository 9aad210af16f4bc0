"""``selfeng experiment ...`` and ``ask --arm`` on a temporary home."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from selfeng.cli import main
from selfeng.cli.experiment_commands import parse_arms, parse_split
from tests.cli.test_cli import home, publish, run

__all__ = ["home"]


def fails(home: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--home", str(home), *args])
    assert result.exit_code != 0, result.output
    return result.output


def test_arms_and_splits_parse() -> None:
    control, arms = parse_arms(
        ("control", "lenient:retrieval.threshold=0.3", "lenient:retrieval.top_k=8")
    )
    assert control == "control"
    assert arms == {"control": {}, "lenient": {"retrieval.threshold": 0.3, "retrieval.top_k": 8}}
    assert parse_split("90/10", ["a", "b"]) == {"a": 0.9, "b": 0.1}
    assert parse_split(None, ["a", "b", "c"])["c"] == pytest.approx(1 / 3)
    for bad, words in (
        (("control",), "two arms"),
        (("a", "b"), "a, b pin none"),
        (("a:x=1", "b:retrieval.threshold=0.3"), "no such policy"),
        (("a b",), "an arm's name"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_arms(bad)
    for text in ("50", "a/b", "50/-50", "0/100"):
        with pytest.raises(ValueError, match="share"):
            parse_split(text, ["a", "b"])


def test_start_list_show_stop(home: Path) -> None:
    out = run(
        home, "experiment", "start", "t1", "--arm", "control",
        "--arm", "lenient:retrieval.threshold=0.3", "--split", "80/20", "--min-samples", "5",
    ).output  # fmt: skip
    assert "experiment 't1' started" in out
    assert "lenient: 20% of sessions, fork t1.lenient, retrieval.threshold=0.3" in out
    forks = {
        f["fork"]: f["policies"] for f in orjson.loads(run(home, "fork", "list", "--json").output)
    }
    assert forks == {"t1.control": {}, "t1.lenient": {"retrieval.threshold": 0.3}}
    [listed] = orjson.loads(run(home, "experiment", "list", "--json").output)
    assert listed["status"] == "running"
    assert listed["guardrails"] == ["wrong_rate"]
    assert listed["arms"]["lenient"]["split"] == 0.2
    done = {"type": "RequestCompleted", "answer": "a"}
    publish(
        home,
        {**done, "key": "r1", "ok": True, "policy_arm": "t1.lenient"},
        {**done, "key": "r2", "ok": False, "policy_arm": "t1.control"},
    )
    shown = orjson.loads(run(home, "experiment", "show", "t1", "--json").output)
    assert shown["arms"]["lenient"]["requests"] == 1
    assert shown["arms"]["control"]["abstention_rate"] == 1.0
    assert "min_samples" in shown["now"]["reason"]
    assert "success_rate (decides)" in run(home, "experiment", "show", "t1").output
    assert "one runs at a time" in fails(
        home, "experiment", "start", "t2", "--arm", "a", "--arm", "b:retrieval.top_k=3"
    )
    assert "stopped" in run(home, "experiment", "stop", "t1").output
    assert orjson.loads(run(home, "fork", "list", "--json").output) == []
    stopped = orjson.loads(run(home, "experiment", "show", "t1", "--json").output)
    assert stopped["status"] == "concluded"
    assert stopped["concluded"]["decided_by"] == "user"
    assert "not running" in fails(home, "experiment", "stop", "t1")
    assert "exists" in fails(
        home, "experiment", "start", "t1", "--arm", "a", "--arm", "b:retrieval.top_k=3"
    )


def test_promote_makes_the_arms_policies_main(home: Path) -> None:
    run(
        home,
        "experiment",
        "start",
        "p1",
        "--arm",
        "control",
        "--arm",
        "strict:answer.min_confidence=0.9",
    )
    assert "the arms are" in fails(home, "experiment", "promote", "p1", "nosuch")
    out = run(home, "experiment", "promote", "p1", "strict").output
    assert "answer.min_confidence = 0.9" in out
    state = orjson.loads(run(home, "state", "policies").output)
    record = state["policies"]["answer.min_confidence"]
    assert record["value"] == 0.9
    assert record["history"][-1]["by"] == "user"
    assert "experiment p1" in record["history"][-1]["reason"]


def test_bad_designs_are_refused(home: Path) -> None:
    assert "two arms" in fails(home, "experiment", "start", "x", "--arm", "control")
    assert "not accepted" in fails(
        home, "experiment", "start", "x", "--arm", "c", "--arm", "b:retrieval.threshold=3"
    )
    assert "one share per arm" in fails(
        home,
        "experiment",
        "start",
        "x",
        "--arm",
        "c",
        "--arm",
        "b:retrieval.top_k=3",
        "--split",
        "50/25/25",
    )
    assert "Invalid value" in fails(
        home,
        "experiment",
        "start",
        "x",
        "--arm",
        "c",
        "--arm",
        "b:retrieval.top_k=3",
        "--metric",
        "joy",
    )
    assert "no experiment" in fails(home, "experiment", "show", "nope")


def test_ask_with_an_arm(home: Path) -> None:
    run(home, "fork", "create", "lenient", "--policy", "retrieval.threshold=0.3")
    answer = orjson.loads(
        run(home, "ask", "What is 10% of 50?", "--arm", "lenient", "--json").output
    )
    assert (answer["ok"], answer["arm"], answer["arm_note"]) == (True, "lenient", "")
    other = orjson.loads(run(home, "ask", "What is 10% of 60?", "--arm", "gone", "--json").output)
    assert other["ok"] is True
    assert other["arm"] is None
    assert "no fork 'gone'" in other["arm_note"]


def test_simulate_estimates_without_appending(home: Path) -> None:
    run(home, "ask", "What is 10% of 50?")
    before = orjson.loads(run(home, "log", "stats", "--json").output)
    out = orjson.loads(
        run(home, "experiment", "simulate", "-p", "retrieval.threshold=1.0", "--json").output
    )
    assert out["requests"] == 1
    assert set(out["estimate"]) == {"success_rate", "wrong_rate", "abstention_rate"}
    assert orjson.loads(run(home, "log", "stats", "--json").output) == before
    assert "not accepted" in fails(home, "experiment", "simulate", "-p", "retrieval.threshold=2")
