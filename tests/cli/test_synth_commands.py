"""``selfeng synth pending|show`` and ``selfeng tools add --answer``, through click's runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.cli import main
from selfeng.cli.synth_commands import synth
from selfeng.consumers.synthesizer import Synthesizer
from selfeng.core.backends import open_log, open_sandbox, open_store
from selfeng.core.settings import Settings
from selfeng.infra.llm.openai import describe_llm_setup
from selfeng.schemas import PolicyChanged
from tests.consumers.test_synthesizer import BROKEN, PROMPT, VOWELS, fenced, known_answers
from tests.llm_server import ScriptedLLMServer

if "synth" not in main.commands:
    main.add_command(synth)

NO_LLM = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "OPENAI_MODEL": "", "SELFENG_LLM": ""}


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {
        "SELFENG_HOME": str(home),
        "SELFENG_LOG": "",
        "SELFENG_STORE": "",
        "SELFENG_SANDBOX": "subprocess://",
        "COLUMNS": "250",
        **NO_LLM,
        **(env or {}),
    }
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert run(home, "tools", "seed").exit_code == 0
    return home


def asked(home: Path) -> str:
    """Ask something no tool does; the request id."""
    data = orjson.loads(run(home, "ask", "--json", PROMPT).output)
    assert "no tool for that yet" in data["answer"]
    request_id: str = data["request_id"]
    return request_id


@pytest.fixture
def synthesizing(home: Path, llm_server: ScriptedLLMServer) -> Iterator[Selfeng]:
    """A selfeng on the home's log that writes tools with the scripted model."""
    settings = Settings.resolve(home=home, env={})
    app = Selfeng(
        open_log(settings.log_url),
        open_store(settings.store_url),
        settings=settings,
        sandbox=open_sandbox("subprocess://"),
        llm=llm_server.llm(),
        learners=lambda ports: [Synthesizer(ports)],
    )
    yield app
    app.close()


def test_pending_says_no_llm_is_configured_and_lists_the_request(home: Path) -> None:
    request_id = asked(home)
    result = run(home, "synth", "pending")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == describe_llm_setup()
    assert request_id in result.output
    assert "How many vowels are in banana" in result.output
    assert "waiting for a tool (no LLM configured)" in result.output
    data = orjson.loads(run(home, "synth", "pending", "--json").output)
    assert data["llm"] is None
    [row] = data["pending"]
    assert row["request_id"] == request_id
    assert row["need"] == "How many vowels are in banana"
    assert row["status"] == "waiting for a tool (no LLM configured)"
    assert row["age"].endswith("s")


def test_a_person_adds_the_tool_and_answers_the_request(home: Path, tmp_path: Path) -> None:
    request_id = asked(home)
    tool = tmp_path / "count_vowels.py"
    tool.write_text(VOWELS, encoding="utf-8")
    result = run(home, "tools", "add", str(tool), "--answer", request_id)
    assert result.exit_code == 0, result.output
    assert "registered count_vowels v1" in result.output
    assert f"answered request {request_id}" in result.output
    assert result.output.strip().endswith("3")
    pending = run(home, "synth", "pending")
    assert "no request is waiting for a tool" in pending.output
    shown = run(home, "synth", "show", request_id).output
    assert "answered with count_vowels@1" in shown
    assert "--answer" not in shown


def test_answer_needs_a_request_that_asked_for_a_tool(home: Path, tmp_path: Path) -> None:
    tool = tmp_path / "count_vowels.py"
    tool.write_text(VOWELS, encoding="utf-8")
    result = run(home, "tools", "add", str(tool), "--answer", "no-such-request")
    assert result.exit_code == 1
    assert "no request 'no-such-request'" in result.output


def test_show_gives_each_attempt_with_its_test_output(
    home: Path, synthesizing: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.decline_planning()
    llm_server.accept(known_answers)
    llm_server.script(fenced(BROKEN), fenced(VOWELS))
    answer = Agent(synthesizing, seed=False).ask(PROMPT)
    assert answer.ok
    out = run(home, "synth", "show", answer.request_id).output
    assert f"prompt:  {PROMPT}" in out
    assert "need:    How many vowels are in banana" in out
    assert "status:  answered with count_vowels@2" in out
    assert "LLM:     2 call(s)" in out
    assert "model scripted-model" in out
    assert "attempt 1" in out
    assert "proposed count_vowels v1: rejected: 1 of 2 tests failed (test_you)" in out
    assert "FAIL test_you" in out
    assert "attempt 2" in out
    assert "proposed count_vowels v2: verified (2 tests passed)" in out


def test_show_says_how_a_person_answers_a_request_given_up(
    home: Path, synthesizing: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.decline_planning()
    llm_server.accept(known_answers)
    llm_server.script("Sorry, I cannot.")
    synthesizing.append([PolicyChanged(name="cost.max_synthesis_attempts", value=1)])
    answer = Agent(synthesizing, seed=False).ask(PROMPT)
    assert not answer.ok
    out = run(home, "synth", "show", answer.request_id).output
    assert "status:  gave up" in out
    assert "no tool was proposed: the answer has no ```python block" in out
    assert f"selfeng tools add FILE.py --answer {answer.request_id}" in out
    pending = run(home, "synth", "pending", env=llm_server.env()).output
    assert describe_llm_setup() not in pending
    assert "gave up after 1 attempt" in pending


def test_show_of_a_request_that_asked_for_nothing(home: Path) -> None:
    result = run(home, "synth", "show", "no-such-request")
    assert result.exit_code == 1
    assert "did not ask for a tool" in result.output
