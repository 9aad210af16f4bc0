"""JSON Schema export: one file per event type, so a client in any language can publish."""

from __future__ import annotations

from pathlib import Path

import orjson

from selfeng.schemas.catalogue import EVENT_TYPES, TOPIC_OF_TYPE


def event_json_schema(type_name: str) -> dict[str, object]:
    """The JSON Schema of one event type, as a client should send it.

    Fields with defaults (``event_id``, ``occurred_at``, ...) are optional: the log fills them.
    """
    cls = EVENT_TYPES[type_name]
    schema = cls.model_json_schema(mode="validation")
    schema["$id"] = (
        f"https://selfeng.dev/schemas/{type_name}.v{cls.model_fields['schema_version'].default}.json"
    )
    schema["x-selfeng-topic"] = TOPIC_OF_TYPE[type_name]
    schema["x-selfeng-key-field"] = cls.key_field
    return schema


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<Type>.json`` for every event type into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(EVENT_TYPES):
        path = directory / f"{name}.json"
        path.write_bytes(orjson.dumps(event_json_schema(name), option=orjson.OPT_INDENT_2))
        written.append(path)
    return written
