import inspect
import sys
import threading
import time

import pytest

from selfeng.core import planning
from selfeng.core.tooldef import ToolSourceError, parse_module, parse_tool
from selfeng.seed_tools import seed_sources

TOOL = '''
"""A module docstring."""
from typing import Literal

DETERMINISTIC = False


def greet(name: str, times: int = 1, style: Literal["plain", "loud"] = "plain",
          tags: list[str] | None = None) -> str:
    """Greet someone by name.

    Args:
        name: who to greet.
        times: how many times.
    """
    return " ".join([f"hello {name}"] * times)


def _helper() -> None:
    pass


def test_greets() -> None:
    assert greet("ada") == "hello ada"
'''


def test_the_spec_comes_from_annotations_and_docstring() -> None:
    tool = parse_tool(TOOL)
    assert tool.name == "greet"
    assert tool.spec.description == "Greet someone by name."
    assert tool.spec.deterministic is False
    params = tool.spec.parameters
    assert params["required"] == ["name"]
    props = params["properties"]
    assert isinstance(props, dict)
    assert props["name"] == {"type": "string", "description": "who to greet."}
    assert props["times"] == {"type": "integer", "description": "how many times.", "default": 1}
    assert props["style"] == {"enum": ["plain", "loud"], "default": "plain"}
    assert props["tags"] == {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
        "default": None,
    }
    assert tool.spec.returns == {"type": "string"}


def test_code_and_tests_are_split_without_running_anything() -> None:
    tool = parse_tool(TOOL.replace("return", "import os; os._exit(3); return"))
    assert "def test_greets" not in tool.code
    assert "def _helper" in tool.code
    assert "def test_greets" in tool.tests
    assert "from typing import Literal" in tool.tests


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(:", "not valid Python"),
        (
            "def a(x: int) -> int:\n    '''A.'''\n    return x\n\ndef b() -> None:\n    '''B.'''\n",
            "one public function",
        ),
        (
            "def f(x) -> int:\n    '''Doc.'''\n    return 1\n\ndef test_f() -> None:\n    pass\n",
            "has no type annotation",
        ),
        (
            "def f(x: int) -> int:\n    return 1\n\ndef test_f() -> None:\n    pass\n",
            "has no docstring",
        ),
        ("def f(x: int) -> int:\n    '''Doc.'''\n    return 1\n", "has no tests"),
        (
            "def f(x: set[int]) -> int:\n    '''D.'''\n    return 1\n\ndef test_f() -> None: ...",
            "is not supported",
        ),
        (
            "def f(*xs: int) -> int:\n    '''D.'''\n    return 1\n\ndef test_f() -> None: ...",
            "plain named parameters",
        ),
    ],
)
def test_bad_tool_files_say_what_to_change(source: str, message: str) -> None:
    with pytest.raises(ToolSourceError, match=message):
        parse_tool(source)


def test_every_starter_tool_parses_and_is_documented() -> None:
    sources = seed_sources()
    assert len(sources) >= 20
    for name, source in sources.items():
        tool = parse_tool(source, name)
        assert tool.name == name
        assert tool.spec.description
        assert "def test_" in tool.tests


def test_tool_sources_parse_in_several_threads_at_once() -> None:
    """CPython 3.11 shares the AST constructor's depth between threads (python/cpython#106905).

    A finaliser that runs Python code lets another thread in while a tree is being built;
    unguarded, that fails with "AST constructor recursion depth mismatch".
    """
    source = inspect.getsource(planning)
    errors: list[BaseException] = []

    class Finalised:
        def __init__(self) -> None:
            self.cycle = self

        def __del__(self) -> None:
            time.sleep(0)

    def parse_repeatedly() -> None:
        for _ in range(40):
            for _ in range(50):
                Finalised()
            try:
                parse_module(source)
            except BaseException as exc:
                errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=parse_repeatedly) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:1]
