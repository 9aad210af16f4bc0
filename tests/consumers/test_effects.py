"""No answer on a guess: tools with effects are not run on a tie between fitting tools, a
stand-in a record would not give, or a quantity asked of a tool that gives none; pure tools
that fit equally must agree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.tooldef import parse_tool
from selfeng.schemas import ToolExecuted, ToolSynthesisRequested
from tests.consumers.conftest import seeded_app


def _remover(name: str, where: str) -> str:
    return f'''"""{where}."""

DETERMINISTIC = False


def {name}(key: str) -> dict:
    """Remove a key from the {where}.

    Args:
        key: the key to remove.
    """
    return {{"removed": key}}


def test_removes() -> None:
    assert {name}("a") == {{"removed": "a"}}
'''


SORTER = '''"""Files."""

DETERMINISTIC = False


def sort_file(file_name: str) -> dict:
    """Sort the lines of a file in place.

    Args:
        file_name: the file to sort.
    """
    return {"sorted": file_name}


def test_sorts() -> None:
    assert sort_file("a.txt") == {"sorted": "a.txt"}
'''


@pytest.fixture
def app() -> Iterator[Selfeng]:
    opened = seeded_app()
    yield opened
    opened.close()


def _ran(answer: object) -> list[ToolExecuted]:
    return [e for e in answer.events if isinstance(e, ToolExecuted)]  # type: ignore[attr-defined]


def test_two_tools_with_effects_that_fit_equally_are_not_guessed_between(app: Selfeng) -> None:
    app.add_tool(parse_tool(_remover("remove_from_cache", "cache"), "remove_from_cache"))
    app.add_tool(parse_tool(_remover("remove_from_store", "store"), "remove_from_store"))
    answer = Agent(app).ask("remove the key 'zeta'")
    assert not answer.ok
    assert "equally well" in answer.text
    assert not _ran(answer)
    assert not any(isinstance(e, ToolSynthesisRequested) for e in answer.events)
    # a request that says which one is meant is answered
    chosen = Agent(app).ask("remove the key 'zeta' from the cache")
    assert chosen.tools == ("remove_from_cache@1",)


def test_pure_tools_that_fit_equally_answer_when_they_agree(app: Selfeng) -> None:
    """ "add 5 and 7" fits add_numbers and sum_numbers alike: both run, both say 12."""
    answer = Agent(app).ask("add 5 and 7")
    assert answer.ok
    assert answer.value == 12
    ran = {e.tool for e in _ran(answer)}
    assert ran == {"add_numbers", "sum_numbers"}
    assert answer.tools == ("add_numbers@1",)  # the other's run is no step of the answer


def test_pure_tools_that_fit_equally_and_disagree_give_no_answer(app: Selfeng) -> None:
    """ "count sheep": one word, or five letters? Neither is a guess worth giving."""
    answer = Agent(app).ask("count sheep")
    assert not answer.ok
    assert "answer differently" in answer.text
    assert "1" in answer.text
    assert "5" in answer.text
    assert len(_ran(answer)) >= 2
    assert "sheep" not in str(app.registry()["phrases"].get("count_words", {}))


def test_a_quantity_is_not_asked_of_a_tool_that_gives_a_record(app: Selfeng) -> None:
    app.add_tool(parse_tool(SORTER, "sort_file"))
    answer = Agent(app).ask("once it is sorted, how many lines are in the sorted 'a.txt' file")
    assert not answer.ok
    assert not _ran(answer)


def test_a_record_does_not_stand_in_for_a_value_the_next_step_needs(app: Selfeng) -> None:
    """The first part's tool gives a record; the second needs a file name: not known before
    the first runs, so nothing runs."""
    app.add_tool(parse_tool(SORTER, "sort_file"))
    answer = Agent(app).ask("sort the lines of 'a.txt' and then sort the file")
    assert not answer.ok
    assert not _ran(answer)


def test_answers_agree_to_nine_significant_digits() -> None:
    """One tool rounds to ten decimals, another does not: the same answer."""
    from selfeng.consumers.step_runner import _same

    assert _same(21.3333333333, 64 / 3)
    assert _same(12, 12.0)
    assert not _same(1, 5)
    assert not _same(True, 1)
    assert _same("olleh", "olleh")
