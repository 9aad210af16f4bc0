"""``selfeng ask``, ``feedback``, ``tools`` and ``doctor`` through click's runner."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from selfeng.cli import main

TOOL = '''"""A tool a person wrote."""


def double_it(x: float) -> float:
    """Double a number: twice x.

    Args:
        x: the number to double.
    """
    return 2 * x


def test_doubles() -> None:
    assert double_it(21) == 42
'''

BROKEN = TOOL.replace("return 2 * x", "return 3 * x")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    assert run(home, "tools", "seed").exit_code == 0
    return home


def run(home: Path, *args: str) -> Result:
    env = {
        "SELFENG_HOME": str(home),
        "SELFENG_LOG": "",
        "SELFENG_STORE": "",
        "SELFENG_SANDBOX": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_ask_prints_the_answer_and_json_for_scripts(home: Path) -> None:
    result = run(home, "ask", "What is 25% of 100?")
    assert result.exit_code == 0
    assert result.output.strip() == "25"
    data = orjson.loads(run(home, "ask", "--json", "What is 25% of 100?").output)
    assert data["answer"] == "25"
    assert data["value"] == 25.0
    assert data["tools"] == ["percent_of@1"]
    assert data["cached"] is True
    assert set(data["timings_ms"]) == {"total", "handler"}
    assert data["request_id"]


def test_ask_trace_shows_the_event_chain(home: Path) -> None:
    out = run(home, "ask", "--trace", "Reverse the string trace").output
    assert out.startswith("ecart")
    for name in (
        "RequestReceived",
        "ToolSearched",
        "ArgumentsExtracted",
        "ToolExecuted",
        "ResponseSynthesized",
        "RequestCompleted",
    ):
        assert name in out


def test_an_unanswerable_request_exits_non_zero(home: Path) -> None:
    result = run(home, "ask", "Translate good morning into French")
    assert result.exit_code == 1
    assert "no tool for that yet" in result.output


def test_feedback_is_recorded(home: Path) -> None:
    request_id = orjson.loads(run(home, "ask", "--json", "Reverse the string abc").output)[
        "request_id"
    ]
    assert "recorded: good" in run(home, "feedback", request_id, "good").output
    assert "FeedbackGiven" in run(home, "tail", "--type", "FeedbackGiven").output
    missing = CliRunner().invoke(main, ["--home", str(home), "feedback", "nope", "bad"])
    assert missing.exit_code == 1
    assert "no request 'nope'" in missing.output


def test_tools_add_list_show_history(home: Path, tmp_path: Path) -> None:
    good = tmp_path / "double_it.py"
    good.write_text(TOOL)
    added = run(home, "tools", "add", str(good))
    assert "registered double_it v1 (1 tests passed)" in added.output
    assert run(home, "ask", "double 21").output.strip() == "42"
    bad = tmp_path / "double_it_v2.py"
    bad.write_text(BROKEN)
    rejected = CliRunner().invoke(main, ["--home", str(home), "tools", "add", str(bad)])
    assert rejected.exit_code == 1
    assert "rejected double_it v2" in rejected.output
    assert "test_doubles" in rejected.output
    listed = run(home, "tools", "list").output
    assert "double_it" in listed
    assert "percent_of" in listed
    shown = run(home, "tools", "show", "double_it").output
    assert "double_it v1 (registered, human)" in shown
    assert "return 2 * x" in shown
    history = run(home, "tools", "history", "double_it").output
    assert "ToolRejected" in history
    assert "active version: 1" in history


def test_a_tool_file_that_is_not_a_tool_says_why(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.py"
    bad.write_text("x = 1\n")
    result = CliRunner().invoke(main, ["--home", str(home), "tools", "add", str(bad)])
    assert result.exit_code == 1
    assert "one public function" in result.output


def test_doctor_names_the_sandbox_and_what_works(home: Path) -> None:
    out = run(home, "doctor").output
    assert "sandbox" in out
    assert "subprocess://?workers=0" in out
    assert "docker://?workers=0" in out
    assert "embedder  lexical" in out


def test_doctor_prints_what_errors_say_as_text_not_markup(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selfeng.cli import doctor
    from selfeng.core.backends import BackendError

    def missing(url: str) -> None:
        raise BackendError("docker:// needs an optional dependency: pip install 'selfeng[docker]'")

    monkeypatch.setattr(doctor, "open_sandbox", missing)
    out = run(home, "doctor").output
    assert "pip install 'selfeng[docker]'" in out
