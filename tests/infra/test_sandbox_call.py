"""What a call's child decides, tested in-process: argument types, JSON, failure kinds."""

from __future__ import annotations

import errno
import socket
from typing import Literal, Optional

import pytest

from selfeng.infra.sandbox.call import Forbidden, check_arguments, classify, not_json, type_problem

LIMITS = {"memory_mb": 64, "file_size_mb": 2, "processes": 8}


@pytest.mark.parametrize(
    ("value", "annotation"),
    [
        (1, int),
        (1, float),
        (1.5, float),
        ("a", str),
        (True, bool),
        (None, None),
        (None, Optional[int]),  # noqa: UP045 (the typing spelling must work too)
        (2, int | None),
        ([1, 2.5], list[float]),
        ({"a": [1]}, dict[str, list[int]]),
        ([1, "a"], tuple[int, str]),
        ([1, 2, 3], tuple[int, ...]),
        ("b", Literal["a", "b"]),
        ({"anything": object}, object),
        ("2024-01-01", "datetime.date"),  # an unknown annotation is not checked
    ],
)
def test_values_that_fit(value: object, annotation: object) -> None:
    assert type_problem(value, annotation) is None


@pytest.mark.parametrize(
    ("value", "annotation", "problem"),
    [
        ("1", int, "must be an integer, not a string '1'"),
        (True, int, "must be an integer, not a boolean True"),
        (1.5, int, "must be an integer, not a number 1.5"),
        ("x", float, "must be a number, not a string 'x'"),
        (1, str, "must be a string, not an integer 1"),
        ([1, "a"], list[int], "item must be an integer, not a string 'a'"),
        ({"a": "b"}, dict[str, int], "value must be an integer, not a string 'b'"),
        ([1], tuple[int, int], "must be a list of 2 items, not 1"),
        ("c", Literal["a", "b"], "must be one of 'a', 'b', not 'c'"),
        ("x", int | None, "must be int | None, not a string 'x'"),
    ],
)
def test_values_that_do_not(value: object, annotation: object, problem: str) -> None:
    assert type_problem(value, annotation) == problem


def test_string_annotations_are_resolved_and_tuples_made() -> None:
    def f(n: int, pair: tuple[int, int]) -> None: ...

    f.__annotations__ = {"n": "int", "pair": "tuple[int, int]"}
    arguments: dict[str, object] = {"n": 1, "pair": [1, 2]}
    assert check_arguments(f, arguments, {}) is None
    assert arguments["pair"] == (1, 2)
    assert check_arguments(f, {"n": "1"}, {}) == "argument 'n' must be an integer, not a string '1'"


def test_values_json_cannot_carry_are_named() -> None:
    assert not_json({1}) == "returned a set, not JSON"
    assert not_json(object()) == "returned an object, not JSON"
    assert not_json({"a": [1, b"x"]}) == "returned a dict containing a bytes, not JSON"
    assert not_json({(1, 2): 1}) == "returned a dict containing a tuple key, not JSON"
    assert not_json(float("inf")) == "returned a float inf, not JSON"


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
