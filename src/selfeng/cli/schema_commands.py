"""``selfeng schemas``: the event catalogue and its JSON Schemas."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from selfeng.cli.render import console
from selfeng.schemas import CURRENT_VERSION, EVENT_TYPES, TOPIC_OF_TYPE
from selfeng.schemas.export import export_schemas


@click.group("schemas")
def schemas() -> None:
    """The event types, their versions and JSON Schemas."""


@schemas.command("list")
def list_schemas() -> None:
    """List every event type with its topic and schema version."""
    table = Table("type", "topic", "version", "key", "what it records")
    for name in sorted(EVENT_TYPES, key=lambda n: (TOPIC_OF_TYPE[n], n)):
        cls = EVENT_TYPES[name]
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        table.add_row(
            name, TOPIC_OF_TYPE[name], str(CURRENT_VERSION[name]), cls.key_field or "key", doc
        )
    console.print(table)


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write one JSON Schema file per event type into DIRECTORY."""
    written = export_schemas(directory)
    console.print(f"wrote {len(written)} JSON Schemas to {directory}")


COMMANDS = [schemas]
