"""Reflection: real failures in a real sandbox, analysed, repaired, rolled back, deprecated."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import JsonValue

from selfeng.app import Selfeng
from selfeng.consumers.reflection import Reflection, classify, is_tool_fault
from selfeng.core.backends import open_sandbox
from selfeng.core.llm import LLM
from selfeng.core.settings import Settings
from selfeng.core.tooldef import parse_tool
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.schemas import (
    Event,
    FailureAnalyzed,
    LLMCalled,
    PolicyChanged,
    RepairProposed,
    RequestCompleted,
    RequestReceived,
    ToolDeprecated,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
    ToolRepaired,
    ToolRolledBack,
    ToolVerified,
)
from selfeng.schemas.requests import ErrorKind
from tests.llm_server import ScriptedLLMServer

DOC = '''"""Reverse a text: its characters in reverse order.

    Args:
        text: the text to reverse.
    """'''

REVERSE_V1 = f"""
def reverse_text(text: str) -> str:
    {DOC}
    return text[::-1]


def test_reverses() -> None:
    assert reverse_text("hello") == "olleh"
"""

REVERSE_BROKEN = f"""
def reverse_text(text: str) -> str:
    {DOC}
    (word,) = text.split(" ")
    return word[::-1]


def test_reverses() -> None:
    assert reverse_text("hello") == "olleh"
"""
"""Its own test passes; any text with a space makes it crash."""

REVERSE_STRICT = f"""
def reverse_text(text: str) -> str:
    {DOC}
    if len(text) > 20:
        raise ValueError("the text is longer than 20 characters")
    return text[::-1]


def test_reverses() -> None:
    assert reverse_text("hello") == "olleh"
"""
"""Refuses long texts on purpose: the caller's fault, not the tool's."""

INITIALS = '''
def word_initials(text: str) -> str:
    """The initials of a text: the first letter of each of its first two words.

    Args:
        text: the words to take the initials of.
    """
    words = text.split()
    return (words[0][0] + words[1][0]).upper()


def test_two_words() -> None:
    assert word_initials("grace hopper") == "GH"
'''
"""Crashes on a single word."""

FIX = f"""The unpacking assumed a single word; reversing the whole text fixes it.

```python
def reverse_text(text: str) -> str:
    {DOC}
    return text[::-1]


def test_regression_text_with_spaces() -> None:
    assert reverse_text("hello world") == "dlrow olleh"
```
"""

NOT_REPRODUCING = f"""```python
def reverse_text(text: str) -> str:
    {DOC}
    return text[::-1]


def test_regression_single_word() -> None:
    assert reverse_text("abc") == "cba"
```
"""
"""A good fix whose test passes on the broken code too: it proves nothing."""


@pytest.fixture
def make_app() -> Iterator[Callable[..., Selfeng]]:
    """Builds a selfeng with only the reflection learner and the given tool versions."""
    apps: list[Selfeng] = []

    def make(*sources: str, llm: LLM | None = None) -> Selfeng:
        app = Selfeng(
            MemoryLog(),
            MemoryStore(),
            settings=Settings.resolve(env={}),
            sandbox=open_sandbox("subprocess://"),
            llm=llm,
            learners=lambda ports: [Reflection(ports)],
        )
        apps.append(app)
        for source in sources:
            assert isinstance(app.add_tool(parse_tool(source))[-1], ToolRegistered)
        return app

    yield make
    for app in apps:
        app.close()


def ask(app: Selfeng, prompt: str) -> list[Event]:
    received = RequestReceived(prompt=prompt, answered_inline=True)
    app.append([received])
    return app.handle(received)


def of(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def completed(events: list[Event]) -> RequestCompleted:
    [done] = of(events, RequestCompleted)
    assert isinstance(done, RequestCompleted)
    return done


def history(app: Selfeng, tool: str) -> list[tuple[int | None, str]]:
    return [(h["version"], h["event"]) for h in app.registry()["tools"][tool]["history"]]


# -- classification (pure) ---------------------------------------------------------------


def failed(
    error: str, kind: ErrorKind | None, arguments: dict[str, JsonValue] | None = None
) -> ToolExecuted:
    return ToolExecuted(
        key="r1",
        tool="reverse_text",
        version=2,
        arguments=arguments if arguments is not None else {"text": "a b"},
        ok=False,
        error=error,
        error_kind=kind,
        duration_ms=1.0,
        sandbox="subprocess",
    )


CODE = "def reverse_text(text):\n    (word,) = text.split(' ')\n    raise ValueError('no')\n"
AT_2 = " (line 2 of the code, in reverse_text)"
AT_3 = " (line 3 of the code, in reverse_text)"
BINDING = "TypeError: reverse_text() "
HELPER = "TypeError: helper() got an unexpected keyword argument 'x'"


@pytest.mark.parametrize(
    ("error", "kind", "expected"),
    [
        ("IndexError: list index out of range" + AT_2, "exception", "exception"),
        (BINDING + "got an unexpected keyword argument 'txt'", "exception", "bad_arguments"),
        (BINDING + "missing 1 required positional argument: 'text'", "exception", "bad_arguments"),
        ("TypeError: can only concatenate str (not int) to str" + AT_2, "exception", "exception"),
        (HELPER + AT_2, "exception", "exception"),
        ("ValueError: no" + AT_3, "exception", "bad_arguments"),
        ("KeyError: 'no field'" + AT_3, "exception", "bad_arguments"),
        ("KeyError: 'x'" + AT_2, "exception", "exception"),
        ("ZeroDivisionError: division by zero" + AT_3, "exception", "exception"),
        ("ValueError: too many values to unpack (expected 1)" + AT_2, "exception", "exception"),
        ("the run took longer than 10 s", "timeout", "timeout"),
        ("ran out of memory (limit 256 MB)", "memory", "memory"),
        ("hit the process limit (32)", "resource_limit", "resource_limit"),
        ("no network in the sandbox: gaierror", "forbidden", "forbidden"),
        ("the sandbox could not start: no docker", "sandbox", "sandbox"),
        ("parameter text: expected a string", "bad_arguments", "bad_arguments"),
        ("something went wrong", None, "exception"),
    ],
)
def test_classify_refines_the_error_kind(error: str, kind: ErrorKind, expected: str) -> None:
    got, evidence = classify(failed(error, kind), CODE)
    assert got == expected
    assert error in evidence
    assert "reverse_text@2" in evidence
    assert '{"text":"a b"}' in evidence


def test_a_value_error_without_the_code_counts_as_deliberate() -> None:
    assert classify(failed("ValueError: bad (line 2 of the code, in f)", "exception"))[0] == (
        "bad_arguments"
    )


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("exception", True),
        ("timeout", True),
        ("memory", True),
        ("resource_limit", True),
        ("forbidden", True),
        ("bad_arguments", False),
        ("sandbox", False),
    ],
)
def test_what_is_the_tools_fault(kind: ErrorKind, fault: bool) -> None:
    assert is_tool_fault(kind) is fault


# -- without an LLM ------------------------------------------------------------------------


def test_bad_arguments_are_analysed_but_roll_nothing_back(
    make_app: Callable[..., Selfeng],
) -> None:
    app = make_app(REVERSE_V1, REVERSE_STRICT)
    events = ask(app, "Reverse the text " + "a" * 30)
    assert not completed(events).ok
    [analyzed] = of(events, FailureAnalyzed)
    assert analyzed.kind == "bad_arguments"
    assert "longer than 20 characters" in analyzed.evidence
    assert not of(events, ToolRolledBack)
    assert not of(events, ToolDeprecated)
    assert app.registry()["tools"]["reverse_text"]["active"] == 2


def test_a_broken_version_is_rolled_back_and_the_next_request_uses_the_old_one(
    make_app: Callable[..., Selfeng],
) -> None:
    app = make_app(REVERSE_V1, REVERSE_BROKEN)
    events = ask(app, "Reverse the text hello world")
    assert not completed(events).ok
    [analyzed] = of(events, FailureAnalyzed)
    assert (analyzed.kind, analyzed.version) == ("exception", 2)
    assert analyzed.correlation_id == events[0].correlation_id
    [rolled] = of(events, ToolRolledBack)
    assert (rolled.from_version, rolled.to_version) == (2, 1)
    assert "too many values to unpack" in rolled.reason
    assert "hello world" in rolled.reason
    assert app.registry()["tools"]["reverse_text"]["active"] == 1
    assert history(app, "reverse_text")[-1] == (1, "ToolRolledBack")
    assert (2, "ToolRegistered") in history(app, "reverse_text")  # v2 stays in the history

    again = ask(app, "Reverse the text good morning")
    assert completed(again).ok
    assert completed(again).answer == "gninrom doog"
    assert completed(again).tools == ("reverse_text@1",)
    assert not of(again, FailureAnalyzed)


def test_a_version_failing_five_of_five_times_is_deprecated(
    make_app: Callable[..., Selfeng],
) -> None:
    app = make_app(INITIALS)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    for i, word in enumerate(words, start=1):
        events = ask(app, f"Initials of the text {word}")
        assert of(events, FailureAnalyzed)[0].kind == "exception"
        deprecated = of(events, ToolDeprecated)
        assert bool(deprecated) is (i == 5)  # judged only after repair.min_executions runs
    assert deprecated[0].version == 1
    assert "failed 5 of 5 runs" in deprecated[0].reason
    tool = app.registry()["tools"]["word_initials"]
    assert tool["active"] is None
    assert tool["versions"]["1"]["status"] == "deprecated"
    assert history(app, "word_initials")[-1] == (1, "ToolDeprecated")
    assert not completed(ask(app, "Initials of the text zeta")).ok  # no longer used


# -- with the scripted LLM -----------------------------------------------------------------


def test_a_buggy_tool_is_repaired_with_a_regression_test(
    make_app: Callable[..., Selfeng], llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(FIX)
    app = make_app(REVERSE_BROKEN, llm=llm_server.llm())
    events = ask(app, "Reverse the text hello world")
    assert not completed(events).ok
    learnt = [type(e).__name__ for e in events[events.index(completed(events)) + 1 :]]
    assert learnt == [
        "FailureAnalyzed",
        "LLMCalled",
        "RepairProposed",
        "ToolProposed",
        "ToolVerified",
        "ToolRegistered",
        "ToolRepaired",
    ]
    [repair] = of(events, RepairProposed)
    assert repair.from_version == 1
    assert "def test_regression_text_with_spaces" in repair.test
    assert "unpacking assumed a single word" in repair.rationale
    assert repair.details is not None
    assert repair.details["model"] == "scripted-model"
    assert repair.details["attempt"] == 1
    assert isinstance(repair.details["tokens"], int)
    assert repair.details["tokens"] > 0
    [proposed] = of(events, ToolProposed)
    assert (proposed.origin, proposed.version) == ("repair", 2)
    assert "def test_reverses" in proposed.tests
    assert "def test_regression_text_with_spaces" in proposed.tests
    assert of(events, ToolVerified)[0].report.passed == 2
    [repaired] = of(events, ToolRepaired)
    assert (repaired.from_version, repaired.to_version) == (1, 2)
    [called] = of(events, LLMCalled)
    assert (called.subject, called.purpose) == ("repair:reverse_text@1", "repair")

    prompt = llm_server.requests[0]["messages"][-1]["content"]
    assert "too many values to unpack" in prompt
    assert parse_tool(REVERSE_BROKEN).code.strip() in prompt  # the code as registered
    assert '{"text":"hello world"}' in prompt
    assert app.registry()["tools"]["reverse_text"]["active"] == 2
    shown = app.registry()["tools"]["reverse_text"]["history"]  # `selfeng tools history`
    assert {"version": 2, "event": "ToolProposed", "detail": "repair"}.items() <= shown[-3].items()
    assert (2, "ToolRegistered") in history(app, "reverse_text")
    assert (1, "ToolRegistered") in history(app, "reverse_text")  # v1 stays in the history

    after = ask(app, "Reverse the text hello world")
    assert completed(after).ok
    assert completed(after).answer == "dlrow olleh"
    assert completed(after).tools == ("reverse_text@2",)


def test_a_test_that_does_not_reproduce_the_failure_is_not_registered(
    make_app: Callable[..., Selfeng], llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(NOT_REPRODUCING, NOT_REPRODUCING, NOT_REPRODUCING)
    app = make_app(REVERSE_V1, REVERSE_BROKEN, llm=llm_server.llm())
    events = ask(app, "Reverse the text hello world")
    assert len(of(events, LLMCalled)) == 3  # cost.max_synthesis_attempts
    assert "does not reproduce" in llm_server.requests[1]["messages"][-1]["content"]
    assert not of(events, RepairProposed)
    assert not of(events, ToolProposed)
    [rolled] = of(events, ToolRolledBack)  # falls back to the earlier version
    assert (rolled.from_version, rolled.to_version) == (2, 1)
    assert app.registry()["tools"]["reverse_text"]["active"] == 1


def test_reacting_twice_stores_nothing_twice_and_calls_the_model_once(
    make_app: Callable[..., Selfeng], llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(NOT_REPRODUCING)
    app = make_app(REVERSE_BROKEN, llm=llm_server.llm())
    app.append([PolicyChanged(name="cost.max_synthesis_attempts", value=1)])
    events = ask(app, "Reverse the text hello world")
    assert [type(e).__name__ for e in events[-2:]] == ["FailureAnalyzed", "LLMCalled"]
    assert app.registry()["tools"]["reverse_text"]["active"] == 1  # keeps watching
    executed = of(events, ToolExecuted)[0]
    head = app.log.head()

    again = Reflection(app.ports).react(executed)  # a worker restarted before committing

    assert [e.event_id for e in again] == [e.event_id for e in events[-2:]]
    assert app.log.head() == head
    assert len(llm_server.requests) == 1


def test_a_repaired_failure_seen_again_changes_nothing(
    make_app: Callable[..., Selfeng], llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(FIX)
    app = make_app(REVERSE_BROKEN, llm=llm_server.llm())
    events = ask(app, "Reverse the text hello world")
    assert of(events, ToolRepaired)
    head = app.log.head()
    again = app.learn(of(events, ToolExecuted))
    assert [type(e).__name__ for e in again] == ["FailureAnalyzed"]
    assert again[0].event_id == of(events, FailureAnalyzed)[0].event_id
    assert app.log.head() == head
    assert len(llm_server.requests) == 1
