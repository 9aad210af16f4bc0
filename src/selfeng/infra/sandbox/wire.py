"""What both sides of a sandbox worker's pipes share: JSON lines, without importing ``json``.

The first of the modules a sandbox worker loads (``selfeng.infra.sandbox.launch``), under the
name ``selfeng_sandbox_wire``: stdlib only, Python 3.9 or newer, and cheap to import, since
a cold worker's start is mostly imports. ``json`` brings ``re`` and ``enum``, ``signal``
brings ``enum`` (15 ms together), ``contextlib`` more: here are their stand-ins.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

signals: Any = __import__("_signal")
"""The C half of ``signal`` (its constants and ``signal()``), without ``enum``."""

MAX_RESULT_BYTES = 8 << 20
"""The largest JSON result a call may return."""

try:
    _json: Any = __import__("_json")
except ImportError:  # pragma: no cover - a Python built without the accelerator
    _json = None


class suppress:  # contextlib.suppress, without importing contextlib
    """Ignore the given exceptions in a ``with`` block."""

    def __init__(self, *kinds: type[BaseException]) -> None:
        self.kinds = kinds

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, self.kinds)


def dumps(value: Any, *, allow_nan: bool = True) -> str:
    """``json.dumps(value)``, compact and ASCII (through ``_json`` when there is one)."""
    if _json is None:
        import json

        return json.dumps(value, allow_nan=allow_nan)
    encoder = _json.make_encoder(
        {},
        _not_serializable,
        _json.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        allow_nan,
    )
    return "".join(encoder(value, 0))


def loads(text: str | bytes) -> Any:
    """``json.loads(text)`` (through ``_json`` when there is one); ValueError if it is not."""
    if isinstance(text, bytes):
        text = text.decode()
    text = text.strip()
    if _json is None:
        import json

        return json.loads(text)
    try:
        value, end = _SCANNER(text, 0)
    except StopIteration:
        raise ValueError(f"not JSON: {text[:60]!r}") from None
    if end != len(text):
        raise ValueError(f"extra data after the JSON value at {end}")
    return value


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)
    memo: dict[str, str] = {}


_SCANNER: Any = _json.make_scanner(_Context()) if _json is not None else None


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_all(fd: int) -> bytes:
    """Read a descriptor to its end."""
    out = bytearray()
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            return bytes(out)
        out += data
