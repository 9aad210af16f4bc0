"""Things that hold resources: ``close()`` them, or use them in a ``with`` block."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closeable:
    """A ``close()`` method and the context-manager protocol that calls it."""

    def close(self) -> None:
        """Release what this holds (connections, processes, clients)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
