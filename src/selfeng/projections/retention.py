"""Retention: how a projection keeps rows that would otherwise grow with every request.

Some tables gain a row per request (what a synthesis tried, what a request spent on the
LLM) and never lose one. A ``Retention`` of N days keeps the rows active within N days of
the newest event the fold has seen, by event time, never by a clock:

- the newest *day* seen is part of the state (its head);
- when an event moves it forward, rows whose last activity is before the horizon (the
  start of the day N days earlier) are deleted: once per day of event time, so the cost is
  one pass over the table a day, and a checkpoint writes only the deletions;
- an event from before the horizon changes no row: what it is about is forgotten already.

So the rows kept do not depend on the order the fold sees keys in (Kafka interleaves
partitions arbitrarily), as long as no event arrives more than N days after events newer
than it: a reader that lags the others by less than the window folds the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DAY_MS = 86_400_000
"""A day in milliseconds."""


@dataclass(frozen=True)
class Retention:
    """Rows active within ``days`` days of the newest event seen are kept."""

    days: int

    def horizon_ms(self, newest_day: int | None) -> int | None:
        """The earliest time a kept row may have last been active (None: keep all)."""
        return None if newest_day is None else (newest_day - self.days) * DAY_MS

    def advance(self, newest_day: int | None, at_ms: int) -> tuple[int | None, bool]:
        """The newest day after an event at ``at_ms``, and whether it moved forward."""
        day = at_ms // DAY_MS
        if newest_day is None or day > newest_day:
            return day, newest_day is not None
        return newest_day, False

    def expired(self, newest_day: int | None, at_ms: int) -> bool:
        """Whether an event at ``at_ms`` is from before the horizon (it changes no row)."""
        horizon = self.horizon_ms(newest_day)
        return horizon is not None and at_ms < horizon


def forget(table: dict[str, Any], still_active: Callable[[Any], bool]) -> int:
    """Delete the rows of ``table`` that are no longer active; how many were deleted."""
    gone = [key for key, row in dict.items(table) if not still_active(row)]
    for key in gone:
        del table[key]
    return len(gone)
