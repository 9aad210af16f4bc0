"""``selfeng learn``: what was learnt and what it was based on, through click's runner."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.cli.test_cli_requests import TOOL, run

SCENARIO = "Calculate 25% of 100 and reverse the result"


@pytest.fixture(scope="module")
def learnt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("learn") / "home"
    assert run(home, "tools", "seed").exit_code == 0
    tools = [orjson.loads(run(home, "ask", "--json", SCENARIO).stdout)["tools"] for _ in range(4)]
    assert tools[2] == ["percent_of@1", "reverse_string@1"]
    assert tools[3] == ["percent_of_then_reverse_string@1"]
    broken = home.parent / "reverse_string.py"
    broken.write_text(
        TOOL.replace("double_it", "reverse_string")
        .replace("x: float) -> float", "text: str) -> str")
        .replace("Double a number: twice x.", "Reverse a string or text.")
        .replace("x: the number to double.", "text: the text.")
        .replace("return 2 * x", "return text[::-1] if len(text) > 3 else text[5]")
        .replace("assert reverse_string(21) == 42", 'assert reverse_string("hello") == "olleh"')
    )
    assert run(home, "tools", "add", str(broken)).exit_code == 0
    assert run(home, "ask", "Reverse the string ab").exit_code == 1  # v2 fails: rolled back
    assert run(home, "ask", "Reverse the string ab").stdout.strip() == "ba"
    return home


def test_learn_shows_patterns_composites_and_rollbacks_as_json(learnt: Path) -> None:
    data = orjson.loads(run(learnt, "learn", "--json").stdout)
    pattern = next(p for p in data["patterns"] if p["pattern"] == "percent_of>reverse_string")
    assert pattern["support"] == 3
    assert pattern["detected"]
    assert pattern["success_rate"] == 1.0
    (composite,) = data["composites"]
    assert composite["tool"] == "percent_of_then_reverse_string"
    assert composite["members"] == ["percent_of@1", "reverse_string@1"]
    assert composite["based_on"].startswith("3 requests, 100% succeeded")
    (rollback,) = data["rollbacks"]
    assert (rollback["tool"], rollback["from_version"], rollback["to_version"]) == (
        "reverse_string",
        2,
        1,
    )
    assert "IndexError" in rollback["reason"]
    assert data["failures"] == {"exception": 1}
    assert data["llm"] == {}
    assert data["tuning"] == []  # the auto-tuner is off by default


def test_learn_prints_each_section(learnt: Path) -> None:
    out = run(learnt, "learn").stdout
    for title in ("Patterns", "Composites", "Repairs", "Rollbacks", "Deprecations", "Tuning"):
        assert title in out
    assert "percent_of_then_reverse_string" in out


def test_learn_on_a_fresh_home_says_nothing_yet(tmp_path: Path) -> None:
    out = run(tmp_path / "home", "learn").stdout
    assert "none yet" in out
