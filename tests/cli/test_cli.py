"""The command-line program, through click's runner on a temporary home."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from selfeng.cli import main
from selfeng.cli.render import CliProgress
from selfeng.schemas import EVENT_TYPES


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def run(home: Path, *args: str, input: str | None = None) -> Result:
    env = {"SELFENG_HOME": str(home), "SELFENG_LOG": "", "SELFENG_STORE": "", "COLUMNS": "200"}
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def publish(home: Path, *messages: Mapping[str, object]) -> Result:
    lines = "\n".join(orjson.dumps(m).decode() for m in messages)
    return run(home, "publish", "-", input=lines)


def test_help_lists_the_commands(home: Path) -> None:
    out = run(home, "--help").output
    for command in (
        "tail",
        "log",
        "publish",
        "replay",
        "state",
        "fork",
        "policy",
        "schemas",
        "project",
        "demo",
    ):
        assert command in out


def test_publish_appends_and_dead_letters(home: Path) -> None:
    result = publish(
        home, {"type": "RequestReceived", "prompt": "hi"}, {"type": "RequestReceived", "prompt": 3}
    )
    assert result.exit_code == 1
    assert "appended 1 event(s)" in result.output
    assert "dead-lettered (validation)" in result.output
    tail = run(home, "tail", "--type", "DeadLetter").output
    assert "DeadLetter" in tail
    assert "prompt: Input should be a valid string" in tail


def test_tail_prints_readable_lines_and_json(home: Path) -> None:
    publish(
        home,
        {"type": "RequestReceived", "key": "r1", "prompt": "What is 25% of 100?"},
        {"type": "FeedbackGiven", "key": "r1", "rating": "good"},
    )
    out = run(home, "tail").output
    assert "RequestReceived" in out
    assert "prompt='What is 25% of 100?'" in out
    assert "rating='good'" in out
    only = run(home, "tail", "--type", "FeedbackGiven").output
    assert "RequestReceived" not in only
    lines = run(home, "tail", "--json").output.strip().splitlines()
    assert [orjson.loads(line)["type"] for line in lines] == ["RequestReceived", "FeedbackGiven"]
    assert run(home, "tail", "-n", "1", "--json").output.count("\n") == 1
    bad = CliRunner().invoke(main, ["--home", str(home), "tail", "--type", "Nope"])
    assert bad.exit_code == 2
    assert "unknown type(s) Nope" in bad.output


def test_log_stats_counts_per_type_and_topic(home: Path) -> None:
    publish(
        home,
        {"type": "RequestReceived", "prompt": "a"},
        {"type": "RequestReceived", "prompt": "b"},
        {"type": "PolicyChanged", "name": "cache.ttl_seconds", "value": 5},
    )
    out = run(home, "log", "stats").output
    assert "events   3" in out
    assert "selfeng.requests" in out
    stats = orjson.loads(run(home, "log", "stats", "--json").output)
    assert stats["by_type"] == {"RequestReceived": 2, "PolicyChanged": 1}
    assert stats["by_topic"] == {"selfeng.requests": 2, "selfeng.policy": 1}
    assert stats["head"] == "3"


def test_policy_set_show_rollback(home: Path) -> None:
    assert (
        "retrieval.threshold = 0.55 (version 2)"
        in run(home, "policy", "set", "retrieval.threshold", "0.55", "--reason", "tighter").output
    )
    bad = CliRunner().invoke(
        main, ["--home", str(home), "policy", "set", "retrieval.threshold", "2"]
    )
    assert bad.exit_code == 2
    assert "not accepted" in bad.output
    shown = run(home, "policy", "show", "retrieval.threshold").output
    assert "tighter" in shown
    assert "default" in shown
    assert "version 3" in run(home, "policy", "rollback", "retrieval.threshold", "1").output
    assert "0.2" in run(home, "policy", "show", "retrieval.threshold").output
    assert "composite.min_frequency" in run(home, "policy", "list").output


def test_forks_create_list_drop(home: Path) -> None:
    publish(home, {"type": "RequestReceived", "prompt": "a"})
    out = run(home, "fork", "create", "lenient", "--policy", "retrieval.threshold=0.3").output
    assert "fork 'lenient' built: 2 events" in out
    listed = orjson.loads(run(home, "fork", "list", "--json").output)
    assert listed[0]["fork"] == "lenient"
    assert listed[0]["policies"] == {"retrieval.threshold": 0.3}
    state = orjson.loads(run(home, "state", "policies", "--fork", "lenient").output)
    assert state["policies"]["retrieval.threshold"]["value"] == 0.3
    again = CliRunner().invoke(main, ["--home", str(home), "fork", "create", "lenient"])
    assert again.exit_code == 1
    assert "exists" in again.output
    bad = CliRunner().invoke(
        main, ["--home", str(home), "fork", "create", "x", "--policy", "retrieval.threshold=9"]
    )
    assert bad.exit_code == 2
    assert "not accepted" in bad.output
    assert "dropped" in run(home, "fork", "drop", "lenient").output
    assert orjson.loads(run(home, "fork", "list", "--json").output) == []
    missing = CliRunner().invoke(main, ["--home", str(home), "fork", "drop", "nope"])
    assert missing.exit_code == 1
    assert "no fork 'nope'" in missing.output


def test_state_now_and_at_a_position(home: Path) -> None:
    run(home, "policy", "set", "cache.ttl_seconds", "60")
    run(home, "policy", "set", "cache.ttl_seconds", "120")
    now = orjson.loads(run(home, "state", "policies").output)
    assert now["policies"]["cache.ttl_seconds"]["value"] == 120
    then = orjson.loads(run(home, "state", "policies", "--at", "1").output)
    assert then["policies"]["cache.ttl_seconds"]["value"] == 60
    assert orjson.loads(run(home, "state", "events", "--at", "0").output)["total"] == 0
    bad = CliRunner().invoke(main, ["--home", str(home), "state", "events", "--at", "soon"])
    assert bad.exit_code == 2
    assert "not a position" in bad.output


def test_replay_checks_live_state(home: Path) -> None:
    publish(home, *[{"type": "RequestReceived", "prompt": f"q{i}"} for i in range(30)])
    run(home, "project")
    result = run(home, "replay")
    assert result.exit_code == 0
    assert "events" in result.output
    assert "NO" not in result.output
    conn = sqlite3.connect(home / "projections.db")
    conn.execute(
        "UPDATE checkpoints SET state = json_set(state, '$.total', 1) WHERE projection = 'events'"
    )
    conn.commit()
    broken = run(home, "replay", "--json")
    assert broken.exit_code == 1
    rows = {r["projection"]: r for r in orjson.loads(broken.output)}
    assert rows["events"]["equal"] is False
    assert rows["events"]["differences"] == ["$.total: live 1 != replay 30"]
    assert rows["policies"]["equal"] is True
    conn.execute("UPDATE checkpoints SET state = '{}' WHERE projection = 'events'")
    conn.commit()
    conn.close()
    unreadable = run(home, "replay", "--json")
    assert unreadable.exit_code == 1
    rows = {r["projection"]: r for r in orjson.loads(unreadable.output)}
    assert "discarded and rebuilt: it cannot be read" in rows["events"]["differences"][0]
    assert run(home, "replay").exit_code == 0  # rebuilt from the log, it is a fold again


def test_schemas_list_and_export(home: Path, tmp_path: Path) -> None:
    assert "RequestReceived" in run(home, "schemas", "list").output
    out = run(home, "schemas", "export", str(tmp_path / "schemas")).output
    assert f"wrote {len(EVENT_TYPES)} JSON Schemas" in out
    assert {p.stem for p in (tmp_path / "schemas").glob("*.json")} >= set(EVENT_TYPES)


def test_a_file_that_is_not_a_log_gives_one_clear_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    result = CliRunner().invoke(main, ["--log", f"sqlite:///{notes}", "tail"])
    assert result.exit_code == 1
    assert "is not a SQLite database" in result.output
    assert "Traceback" not in result.output
    unknown = CliRunner().invoke(main, ["--log", "cassandra://x", "tail"])
    assert unknown.exit_code == 1
    assert "no log backend" in unknown.output


def test_progress_reports_slow_work(capsys: pytest.CaptureFixture[str]) -> None:
    progress = CliProgress(after_seconds=0.0)
    progress.start(10, "folding main")
    progress.advance(4)
    progress.advance(6)
    progress.finish()
    assert "folding main: 10 events in" in capsys.readouterr().err


@pytest.mark.kafka
def test_the_same_commands_on_a_kafka_log(home: Path, kafka_bootstrap: str) -> None:
    from tests.kafka_broker import unique_namespace

    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}"
    lines = "\n".join(
        orjson.dumps({"type": "RequestReceived", "key": f"r{i}", "prompt": f"q{i}"}).decode()
        for i in range(5)
    )
    base = ["--home", str(home), "--log", url]
    assert "appended 5" in CliRunner().invoke(main, [*base, "publish", "-"], input=lines).output
    tail = CliRunner().invoke(main, [*base, "tail", "--json"])
    assert sorted(orjson.loads(x)["prompt"] for x in tail.output.splitlines()) == [
        f"q{i}" for i in range(5)
    ]
    stats = orjson.loads(CliRunner().invoke(main, [*base, "log", "stats", "--json"]).output)
    assert stats["by_type"] == {"RequestReceived": 5}
    assert "selfeng.requests:" in stats["head"]
    created = CliRunner().invoke(main, [*base, "fork", "create", "f", "-p", "retrieval.top_k=3"])
    assert "fork 'f' built: 6 events" in created.output
    assert CliRunner().invoke(main, [*base, "replay"]).exit_code == 0
