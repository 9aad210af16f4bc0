"""Keyed tables: a projection's state stored as rows, so a checkpoint costs the rows changed.

A projection names the top-level maps of its state that are tables (``Projection.tables``):
``cache``'s ``entries``, ``registry``'s ``tools`` and ``stats``, and so on. Each entry of a
table is one row of the store, under the key ``{table}/{entry key}``; what is left of the
state (counters, revisions) is the *head*, stored with the checkpoint's position. A
checkpoint writes the head, the rows a fold may have changed and the deletions, in the
transaction that moves the position.

Which rows changed is noted by ``RowTable``, the dict a table lives in while a store keeps
it. It is conservative by construction, so a fold needs no bookkeeping of its own: a row is
noted when it is set or deleted, and, while the runner is folding, when the folding thread
reads a value that could be changed in place (a dict or a list). Reads outside a fold, or by
another thread meanwhile (the request path's lookups), note nothing.

Rows keep the order they were first inserted in (a ``seq`` the store keeps), because some
folds rely on a dict's order (the cache forgets its oldest entries first).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from threading import get_ident
from typing import Any

import orjson

from selfeng.core.store import RowChange

_MISSING: Any = object()


class RowTable(dict[str, Any]):
    """A dict that notes which of its entries a fold may have changed, added or removed."""

    __slots__ = ("added", "changed", "recording", "removed", "rewritten")

    def __init__(
        self, rows: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), *, clean: bool = False
    ) -> None:
        super().__init__(rows)
        self.changed: set[str] = set()
        """Keys whose value may differ from the stored row."""
        self.added: dict[str, None] = {}
        """Keys inserted since the last checkpoint, in order (they take new places)."""
        self.removed: set[str] = set()
        """Keys deleted since the last checkpoint (some may have been inserted again)."""
        self.rewritten = not clean
        """Whether the stored rows must be replaced by this table whole."""
        self.recording = 0
        """The thread whose reads are noted (the folding one, set by the runner), or 0."""

    # -- writes ----------------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        if not dict.__contains__(self, key):
            self.added[key] = None
        self.changed.add(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self._gone(key)

    def _gone(self, key: str) -> None:
        self.changed.discard(key)
        self.added.pop(key, None)
        self.removed.add(key)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if dict.__contains__(self, key):
            value = dict.pop(self, key)
            self._gone(key)
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Any]:
        key, value = dict.popitem(self)
        self._gone(key)
        return key, value

    def clear(self) -> None:
        dict.clear(self)
        self.changed.clear()
        self.added.clear()
        self.removed.clear()
        self.rewritten = True

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> RowTable:  # type: ignore[override,misc]
        self.update(other)
        return self

    def setdefault(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return self[key]
        self[key] = default
        return default

    # -- reads that hand out values a fold may change in place -----------------------------

    def __getitem__(self, key: str) -> Any:
        value = dict.__getitem__(self, key)
        if self.recording and isinstance(value, dict | list) and self._folding():
            self.changed.add(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            return default
        if self.recording and isinstance(value, dict | list) and self._folding():
            self.changed.add(key)
        return value

    def values(self) -> Any:
        if self.recording and self._folding():
            self._note_all()
        return dict.values(self)

    def items(self) -> Any:
        if self.recording and self._folding():
            self._note_all()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        """A plain dict sharing the values (which a fold may then change: noted)."""
        if self.recording and self._folding():
            self._note_all()
        return dict(dict.items(self))

    def _folding(self) -> bool:
        # another thread reading while a fold runs (the request path) changes nothing
        return self.recording == get_ident()

    def _note_all(self) -> None:
        self.changed.update(k for k, v in dict.items(self) if isinstance(v, dict | list))

    def __reduce__(self) -> Any:  # copies and pickles are plain dicts
        return (dict, (dict(dict.items(self)),))


@dataclass
class TableSet:
    """The tables of one projection's state, and the order their rows were first inserted in."""

    names: tuple[str, ...]
    next_seq: int = 0
    """The place the next inserted row takes."""
    clear_all: bool = False
    """Delete every stored row of the projection before the next write (a rebuild)."""
    tables: dict[str, RowTable] = field(default_factory=dict)
    _pending_seq: int = 0  # next_seq once the changes last asked for are committed

    def install(self, state: dict[str, Any], *, clean: bool = False) -> None:
        """Make each table of ``state`` a RowTable (``clean``: it matches the stored rows)."""
        for name in self.names:
            table = state.get(name)
            if not isinstance(table, RowTable):
                table = RowTable(table or {}, clean=clean)
                state[name] = table
            self.tables[name] = table

    def recording(self, on: bool) -> None:
        """Note this thread's reads (while it folds), or stop."""
        thread = get_ident() if on else 0
        for table in self.tables.values():
            table.recording = thread

    def changes(
        self, state: dict[str, Any], fork: str, projection: str
    ) -> tuple[bytes, list[RowChange], list[str]]:
        """The head's bytes, the rows to write or delete, and the key prefixes to clear
        first. Nothing is forgotten until ``committed`` says the store has them."""
        for name in self.names:  # a fold that replaced a table whole: store the new one whole
            if state.get(name) is not self.tables.get(name):
                self.tables.pop(name, None)
        self.install(state)
        head = orjson.dumps({k: v for k, v in state.items() if k not in self.tables})
        cleared = [""] if self.clear_all else []
        changes: list[RowChange] = []
        seq = self.next_seq
        for name, table in self.tables.items():
            prefix = f"{name}/"
            if table.rewritten:
                if not self.clear_all:
                    cleared.append(prefix)
                added: Iterable[str] = dict.keys(table)
                changed: Iterable[str] = ()
            else:
                added = table.added
                changed = table.changed.difference(table.added)
                changes.extend(
                    RowChange(fork, projection, prefix + key, None) for key in table.removed
                )
            for key in changed:
                value = orjson.dumps(dict.__getitem__(table, key))
                changes.append(RowChange(fork, projection, prefix + key, value))
            for key in added:
                value = orjson.dumps(dict.__getitem__(table, key))
                changes.append(RowChange(fork, projection, prefix + key, value, seq=seq))
                seq += 1
        self._pending_seq = seq
        return head, changes, cleared

    def committed(self) -> None:
        """The store holds what ``changes`` last returned: start noting afresh."""
        self.next_seq = self._pending_seq
        self.clear_all = False
        for table in self.tables.values():
            table.changed.clear()
            table.added.clear()
            table.removed.clear()
            table.rewritten = False


def assemble(
    head: dict[str, Any], rows: Iterator[tuple[str, bytes, int]], names: tuple[str, ...]
) -> tuple[dict[str, Any], int]:
    """A state from its head and its stored rows (in ``seq`` order); and the next ``seq``."""
    tables: dict[str, RowTable] = {name: RowTable(clean=True) for name in names}
    next_seq = 0
    for key, value, seq in rows:
        name, _, entry = key.partition("/")
        table = tables.get(name)
        if table is None:
            raise ValueError(f"a stored row {key!r} belongs to no table ({', '.join(names)})")
        dict.__setitem__(table, entry, orjson.loads(value))
        next_seq = max(next_seq, seq + 1)
    state = dict(head)
    state.update(tables)
    return state, next_seq
