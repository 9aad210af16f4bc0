"""What went wrong in a call: an exception's error kind and a one-line message.

Loaded inside the sandbox under the name ``selfeng_sandbox_failures`` (see
``selfeng.infra.sandbox.launch``): stdlib only, Python 3.9 or newer.

The kinds are those of the worker's replies: ``forbidden`` (the guard, or the operating
system's walls, refused), ``memory``, ``resource_limit`` (a file or process limit) and
``exception`` (anything else the code raised, with the line of the code it came from).
"""

from __future__ import annotations

import errno
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from selfeng.infra.sandbox import guard, wire
else:  # inside a sandbox the loader has defined them from source under these names
    wire = sys.modules.get("selfeng_sandbox_wire")
    if wire is None:
        from selfeng.infra.sandbox import wire
    guard = sys.modules.get("selfeng_sandbox_guard")
    if guard is None:
        from selfeng.infra.sandbox import guard

_NET_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL, errno.ECONNREFUSED}
)
_SOCKET_CALLS = frozenset(
    ["connect", "connect_ex", "bind", "create_connection", "create_server", "urlopen"]
)


def classify(exc: BaseException, limits: dict[str, Any], config: dict[str, Any]) -> tuple[str, str]:
    """The error kind and a one-line message for an exception the code raised."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and all(current is not c for c in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    described = describe(exc)
    processes = limits.get("processes", 32)
    for item in chain:
        if isinstance(item, guard.Forbidden):
            return "forbidden", str(item)
        if isinstance(item, MemoryError):
            return "memory", f"ran out of memory (limit {limits.get('memory_mb', 256)} MB)"
        if isinstance(item, RecursionError):
            break
        if isinstance(item, OSError):
            code = item.errno
            if code == errno.EFBIG:
                size = limits.get("file_size_mb", 16)
                return "resource_limit", f"wrote a file larger than the limit ({size} MB)"
            if code == errno.EAGAIN and isinstance(item, BlockingIOError):
                return "resource_limit", f"hit the process limit ({processes}): {described}"
            no_network = not config.get("network", False)
            if no_network and code == errno.EACCES and _refused_socket(item):
                return "forbidden", "no network in the sandbox: " + described
            if code in (errno.EROFS, errno.EACCES, errno.EPERM):
                return "forbidden", "forbidden in the sandbox: " + described
            if no_network and (code in _NET_ERRNOS or type(item).__name__ == "gaierror"):
                return "forbidden", "no network in the sandbox: " + described
        if isinstance(item, RuntimeError) and "can't start new thread" in str(item):
            return "resource_limit", f"hit the process and thread limit ({processes}): {described}"
    return "exception", described


def _refused_socket(exc: OSError) -> bool:
    """Whether an EACCES came from a socket call (Landlock refusing TCP), not from a path."""
    if exc.filename is not None:
        return False
    tb = exc.__traceback__
    innermost = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith("socket.py"):
            return True
        innermost = tb.tb_frame.f_code
        tb = tb.tb_next
    return innermost is not None and not _SOCKET_CALLS.isdisjoint(innermost.co_names)


def describe(exc: BaseException) -> str:
    """``Type: message (line N of the code, in f)``."""
    text = str(exc)
    head = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, SystemExit):
        head = f"the code called exit({'' if exc.code is None else exc.code})"
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in ("<tool>", "<tests>"):
            place = "the code" if code.co_filename == "<tool>" else "the tests"
            where = f" (line {tb.tb_lineno} of {place}, in {code.co_name})"
        tb = tb.tb_next
    return head + where


def explain_assert(exc: BaseException, message: str) -> str:
    """For a bare ``assert a == b`` that failed: the statement and both sides' values."""
    if not isinstance(exc, AssertionError) or str(exc):
        return message
    tb = exc.__traceback__
    frame = None
    lineno = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<tests>":
            frame, lineno = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    import linecache

    line = linecache.getline("<tests>", lineno).strip() if frame else ""
    if frame is None or not line:
        return message
    explained = f"AssertionError: {line} (line {lineno} of the tests)"
    with wire.suppress(BaseException):
        import ast

        node = ast.parse(line).body[0]
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            compare = node.test
            if len(compare.ops) == 1:
                shown = []
                for side in (compare.left, compare.comparators[0]):
                    expression = compile(ast.Expression(side), "<assert>", "eval")
                    text = repr(eval(expression, frame.f_globals, frame.f_locals))
                    shown.append(text if len(text) <= 200 else text[:197] + "...")
                explained += f"; left: {shown[0]}, right: {shown[1]}"
    return explained
