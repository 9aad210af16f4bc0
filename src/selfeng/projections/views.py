"""Read-only views of projection state: what every reader outside a fold is handed.

State changes only by folding events; a reader that could write into it would change what
replay cannot reproduce. ``frozen(state)`` is a :class:`FrozenDict`: a ``dict`` (so
``isinstance``, ``json`` and ``orjson`` treat it as one) that refuses every change and hands
out each nested dict or list as a frozen view too.

A view is taken level by level, when it is read: each dict or list is copied one level deep
(a C-level copy, atomic under the GIL) at the moment it is reached. So what a reader holds
does not change under it when a fold on another thread changes the live state later: keys
and items are those of the moment the reader reached that level. Copying one level costs
that level's size, which the reader would pay to iterate it anyway; the request path reads
a few rows of a large table, and pays for those rows, not for the table's other rows.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, ValuesView
from typing import Any, NoReturn, SupportsIndex, TypeVar, cast, overload

_T = TypeVar("_T")

_MESSAGE = "projection state is read-only: it changes only by folding events"


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(_MESSAGE)


def _wrap(value: Any) -> Any:
    kind = type(value)
    if kind is FrozenDict or kind is FrozenList:
        return value
    if isinstance(value, dict):
        return FrozenDict(value)
    if isinstance(value, list):
        return FrozenList(value)
    return value


class FrozenDict(dict[Any, Any]):
    """A read-only copy of one level of a dict; nested dicts and lists come out frozen."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        return _wrap(dict.__getitem__(self, key))

    def get(self, key: Any, default: Any = None) -> Any:
        return _wrap(dict.get(self, key, default))

    def values(self) -> Any:
        return ValuesView(self)

    def items(self) -> Any:
        return ItemsView(self)

    def copy(self) -> dict[Any, Any]:
        """A plain, writable copy of this level (nested values stay frozen)."""
        return {k: _wrap(v) for k, v in dict.items(self)}

    def __or__(self, other: Any) -> dict[Any, Any]:
        return {**self.copy(), **other}

    def __reduce__(self) -> Any:
        return (dict, (thaw(self),))

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse


class FrozenList(list[Any]):
    """A read-only copy of a list; nested dicts and lists come out frozen."""

    __slots__ = ()

    @overload
    def __getitem__(self, index: SupportsIndex) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if isinstance(index, slice):
            return FrozenList(list.__getitem__(self, index))
        return _wrap(list.__getitem__(self, index))

    def __iter__(self) -> Iterator[Any]:
        return (_wrap(v) for v in list.__iter__(self))

    def __reversed__(self) -> Iterator[Any]:
        return (_wrap(v) for v in list.__reversed__(self))

    def copy(self) -> list[Any]:
        """A plain, writable copy (nested values stay frozen)."""
        return [_wrap(v) for v in list.__iter__(self)]

    def __reduce__(self) -> Any:
        return (list, (thaw(self),))

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    append = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    clear = _refuse
    sort = _refuse
    reverse = _refuse


def frozen(state: _T) -> _T:
    """A read-only view of ``state`` (a dict or list; anything else as it is)."""
    return cast(_T, _wrap(state))


def thaw(value: Any) -> Any:
    """A plain, writable deep copy of a view (or of any JSON-like value)."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in dict.items(value)}
    if isinstance(value, list):
        return [thaw(v) for v in list.__iter__(value)]
    return value
