"""What a call's child says went wrong, tested in-process: the failure kinds and messages."""

from __future__ import annotations

import errno
import socket

import pytest

from selfeng.infra.sandbox.failures import classify
from selfeng.infra.sandbox.guard import Forbidden

LIMITS = {"memory_mb": 64, "file_size_mb": 2, "processes": 8}


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "kind", "says"),
    [
        (Forbidden("forbidden in the sandbox: x"), "forbidden", "forbidden in the sandbox: x"),
        (MemoryError(), "memory", "limit 64 MB"),
        (OSError(errno.EFBIG, "File too large"), "resource_limit", "limit (2 MB)"),
        (BlockingIOError(errno.EAGAIN, "again"), "resource_limit", "process limit (8)"),
        (RuntimeError("can't start new thread"), "resource_limit", "thread limit (8)"),
        (PermissionError(errno.EACCES, "denied"), "forbidden", "Permission"),
        (OSError(errno.EROFS, "Read-only file system"), "forbidden", "Read-only"),
        (OSError(errno.ENETUNREACH, "unreachable"), "forbidden", "no network"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "forbidden", "no network"),
        (ValueError("bad"), "exception", "ValueError: bad"),
        (SystemExit(2), "exception", "the code called exit(2)"),
        (RecursionError("deep"), "exception", "RecursionError: deep"),
    ],
)
def test_failures_are_classified(exc: BaseException, kind: str, says: str) -> None:
    got_kind, message = classify(_raised(exc), LIMITS, {"network": False})
    assert got_kind == kind
    assert says in message


def test_network_errors_are_plain_where_there_is_a_network() -> None:
    refused = _raised(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    assert classify(refused, LIMITS, {"network": True})[0] == "exception"


def test_a_wrapped_memory_error_is_still_memory() -> None:
    outer = ValueError("could not build it")
    outer.__cause__ = MemoryError()
    assert classify(outer, LIMITS, {})[0] == "memory"


def _refused_connect() -> None:
    """Tool code whose ``connect`` Landlock refuses (EACCES from C: no frame of its own)."""
    with socket.socket() as sock:
        if sock.fileno() >= 0:  # stands in for the kernel's answer to the next line
            raise PermissionError(errno.EACCES, "Permission denied")
        sock.connect(("127.0.0.1", 9))


def test_landlock_refusing_tcp_is_no_network() -> None:
    try:
        _refused_connect()
    except PermissionError as exc:
        refused: BaseException = exc
    kind, message = classify(refused, LIMITS, {"network": False})
    assert kind == "forbidden"
    assert message.startswith("no network in the sandbox: PermissionError")
    denied_file = _raised(PermissionError(errno.EACCES, "Permission denied", "/etc/shadow"))
    assert classify(denied_file, LIMITS, {"network": False})[1].startswith("forbidden in the")
