from pathlib import Path

import jsonschema
import orjson

from selfeng.schemas import EVENT_TYPES, RequestReceived, ToolProposed, ToolSpec
from selfeng.schemas.export import export_schemas


def test_one_schema_per_type_that_validates_real_events(tmp_path: Path) -> None:
    written = export_schemas(tmp_path)
    assert {p.stem for p in written} == set(EVENT_TYPES)
    for event in (
        RequestReceived(prompt="What is 25% of 100?"),
        ToolProposed(tool="t", version=1, spec=ToolSpec(description="d"), code="", tests=""),
    ):
        schema = orjson.loads((tmp_path / f"{event.type}.json").read_bytes())
        jsonschema.validate(orjson.loads(event.model_dump_json()), schema)


def test_a_client_may_leave_out_what_the_log_fills(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    schema = orjson.loads((tmp_path / "RequestReceived.json").read_bytes())
    assert schema["x-selfeng-topic"] == "selfeng.requests"
    assert set(schema["required"]) == {"prompt"}
    jsonschema.validate({"type": "RequestReceived", "prompt": "hi"}, schema)
    try:
        jsonschema.validate({"type": "RequestReceived", "prompt": 42}, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a number is not a prompt")
