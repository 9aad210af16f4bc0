"""How the command-line program shows things: event lines, tables, progress."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as RichBar,
)
from rich.text import Text

from selfeng.core.mapper import DecodeError, from_record
from selfeng.core.records import StoredRecord
from selfeng.schemas import Event

console = Console(highlight=False, soft_wrap=True)
"""Standard output."""
err_console = Console(stderr=True, highlight=False)
"""Standard error: progress, warnings."""

ENVELOPE = frozenset(Event.model_fields)

FAMILY_STYLE = {
    "selfeng.requests": "cyan",
    "selfeng.tools": "green",
    "selfeng.learning": "magenta",
    "selfeng.policy": "yellow",
    "selfeng.deadletter": "red",
}


def print_json(data: Any) -> None:
    """Print JSON, indented, without rich markup."""
    console.print(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode(),
        markup=False,
    )


def format_time_ms(ms: int | None) -> str:
    """An ISO-8601 UTC time from Unix milliseconds."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def event_line(record: StoredRecord, position: str) -> Text:
    """One log record as a line a person can read: place, time, type, key and payload."""
    when = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    style = FAMILY_STYLE.get(record.topic, "white")
    line = Text()
    line.append(f"{position:>8} ", style="dim")
    line.append(f"{when} ", style="dim")
    line.append(f"{record.type or '(no type)':<22}", style=f"bold {style}")
    line.append(f" {record.key}", style=style)
    try:
        event = from_record(record)
    except DecodeError as error:
        line.append(f"  undecodable: {error.reason}", style="red")
        return line
    payload = {
        k: v
        for k, v in event.model_dump(mode="json").items()
        if k not in ENVELOPE and v not in (None, "", [], {}, ())
    }
    parts = []
    for k, v in payload.items():
        text = orjson.dumps(v).decode() if not isinstance(v, str) else repr(v)
        if len(text) > 80:
            text = text[:77] + "..."
        parts.append(f"{k}={text}")
    if parts:
        line.append("  " + " ".join(parts))
    return line


class CliProgress:
    """A progress bar (events done, rate, time left) that appears only for slow work."""

    def __init__(self, after_seconds: float = 0.5) -> None:
        self._after = after_seconds
        self._bar: RichBar | None = None
        self._task: TaskID | None = None
        self._done = 0
        self._total = 0
        self._description = ""
        self._started = 0.0

    def start(self, total: int, description: str) -> None:
        self._total, self._description = total, description
        self._started = time.monotonic()
        self._done = 0

    def advance(self, done: int) -> None:
        self._done += done
        if self._bar is None and time.monotonic() - self._started > self._after:
            self._bar = RichBar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("events  {task.fields[rate]:>10} ev/s"),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                self._description, total=max(self._total, self._done), rate="-"
            )
        if self._bar is not None and self._task is not None:
            elapsed = max(time.monotonic() - self._started, 1e-9)
            self._bar.update(
                self._task,
                completed=self._done,
                total=max(self._total, self._done),
                rate=f"{self._done / elapsed:,.0f}",
            )

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            elapsed = time.monotonic() - self._started
            err_console.print(
                f"{self._description}: {self._done:,} events in {elapsed:.1f} s "
                f"({self._done / max(elapsed, 1e-9):,.0f} events/s)"
            )
            self._bar = None
