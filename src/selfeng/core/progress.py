"""Progress reporting for long folds (replays, fork builds), kept apart from any UI."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told how much work there is and how much is done; shows it however it likes."""

    def start(self, total: int, description: str) -> None:
        """Work of ``total`` events is beginning."""

    def advance(self, done: int) -> None:
        """``done`` more events are done."""

    def finish(self) -> None:
        """The work is over."""
