"""The embedded runtime: one process holding the log, the projection store and the engine.

This is what the command-line program and the Python client open. It wires adapters chosen
by URL (``selfeng.core.backends``) with the projections; it holds no state of its own.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from selfeng.core.backends import open_log, open_store
from selfeng.core.log import EventLog
from selfeng.core.mapper import append_events
from selfeng.core.records import StoredRecord
from selfeng.core.settings import Settings
from selfeng.core.store import ProjectionStore
from selfeng.projections.catalog import ProjectionFactory, default_projections
from selfeng.projections.engine import ProjectionEngine
from selfeng.schemas import Event


class Selfeng:
    """An open selfeng: log, projection store and projection engine."""

    def __init__(
        self,
        log: EventLog,
        store: ProjectionStore,
        *,
        settings: Settings | None = None,
        projections: ProjectionFactory = default_projections,
    ) -> None:
        self.settings = settings
        self.log = log
        self.store = store
        self.engine = ProjectionEngine(log, store, projections)

    @classmethod
    def open(cls, settings: Settings | None = None) -> Selfeng:
        """Open the log and store the settings name (default: ``Settings.resolve()``)."""
        settings = settings or Settings.resolve()
        if settings.log_url.startswith("sqlite:") or settings.store_url.startswith("sqlite:"):
            settings.home.mkdir(parents=True, exist_ok=True)
        log = open_log(settings.log_url)
        try:
            store = open_store(settings.store_url)
        except BaseException:
            log.close()
            raise
        return cls(log, store, settings=settings)

    def append(
        self, events: list[Event], *, expected_versions: dict[str, int] | None = None
    ) -> list[StoredRecord]:
        """Append events atomically (see ``EventLog.append``)."""
        return append_events(self.log, events, expected_versions=expected_versions)

    def close(self) -> None:
        """Close the store and the log."""
        try:
            self.store.close()
        finally:
            self.log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
