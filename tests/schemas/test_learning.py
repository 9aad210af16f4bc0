"""LLMCalled with tool calling: the functions offered, the calls made, replayed messages."""

from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from pydantic import ValidationError

from selfeng.core.mapper import decode
from selfeng.schemas import EVENT_ADAPTER, ChatMessage, LLMCalled
from selfeng.schemas.export import export_schemas
from selfeng.schemas.learning import FunctionSpec, ToolCall

ADD = FunctionSpec(
    name="add_numbers",
    description="Add two numbers.",
    parameters={"type": "object", "properties": {"a": {"type": "number"}}},
)
CALL = ToolCall(id="call_0", name="add_numbers", arguments={"a": 2, "b": [1, None, "x"]})

PLANNED = LLMCalled(
    subject="req-1",
    purpose="planning",
    model="m",
    messages=(
        ChatMessage(role="user", content="What is 2 plus 3?"),
        ChatMessage(role="assistant", content="", tool_calls=(CALL,)),
        ChatMessage(role="tool", content="5", tool_call_id="call_0"),
    ),
    tools=(ADD, FunctionSpec(name="no-args")),
    tool_choice="required",
    tool_calls=(CALL,),
)


def test_a_call_with_tools_round_trips_and_fits_its_json_schema(tmp_path: Path) -> None:
    assert EVENT_ADAPTER.validate_json(PLANNED.model_dump_json()) == PLANNED
    assert decode(PLANNED.model_dump_json().encode()) == PLANNED
    export_schemas(tmp_path)
    schema = orjson.loads((tmp_path / "LLMCalled.json").read_bytes())
    jsonschema.validate(orjson.loads(PLANNED.model_dump_json()), schema)
    assert PLANNED.tools[1].parameters == {"type": "object", "properties": {}}


def test_a_call_recorded_before_tool_calling_still_decodes() -> None:
    raw = (
        b'{"type": "LLMCalled", "schema_version": 1, "key": "req-1", "subject": "req-1",'
        b' "purpose": "synthesis", "model": "m", "response": "def f(): ...",'
        b' "messages": [{"role": "user", "content": "write f"}]}'
    )
    event = decode(raw)
    assert isinstance(event, LLMCalled)
    assert (event.tools, event.tool_choice, event.tool_calls) == ((), None, ())
    assert event.messages[0].tool_calls == ()
    assert event.messages[0].tool_call_id is None


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"role": "user", "tool_calls": [CALL]}, "only an assistant message calls functions"),
        ({"role": "tool", "tool_calls": [CALL], "tool_call_id": "c"}, "only an assistant"),
        ({"role": "tool"}, "a tool message, and only a tool message, names a tool_call_id"),
        ({"role": "assistant", "tool_call_id": "c"}, "only a tool message, names"),
    ],
)
def test_tool_fields_must_fit_the_role(fields: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        ChatMessage.model_validate({"content": "", **fields})


@pytest.mark.parametrize("name", ["", "has space", "dotted.name", "x" * 65])
def test_a_function_name_follows_the_api_rule(name: str) -> None:
    with pytest.raises(ValidationError):
        FunctionSpec(name=name)


def test_arguments_must_be_json() -> None:
    with pytest.raises(ValidationError):
        ToolCall(id="c", name="f", arguments={"when": object()})
