"""The sandbox port: run untrusted tool code, and its tests, with limits.

Three adapters implement it, chosen by URL (``selfeng.core.backends.open_sandbox``):
``subprocess://`` (an isolated interpreter with resource limits), ``bwrap://`` (bubblewrap
namespaces) and ``docker://`` (a container). A failure of the code (an exception, a timeout,
too much memory, a forbidden operation) is a result, never an exception: the caller turns it
into a failure event. Only a sandbox that cannot run at all raises ``SandboxUnavailable``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

from pydantic import JsonValue

from selfeng.core.closing import Closeable

ErrorKind = Literal[
    "bad_arguments", "exception", "timeout", "memory", "resource_limit", "sandbox", "forbidden"
]
"""Why a run failed (the same classes as ``ToolExecuted.error_kind``)."""


class SandboxUnavailable(RuntimeError):
    """The sandbox backend cannot run here (no engine, no binary, no permission)."""


@dataclass(frozen=True)
class Limits:
    """What one run may use."""

    timeout_s: float = 10.0
    """Wall-clock time."""
    cpu_s: float = 10.0
    """CPU time."""
    memory_mb: int = 256
    """Address space (or container memory)."""
    file_size_mb: int = 16
    """Largest file it may write."""
    processes: int = 32
    """Processes and threads it may have."""

    def __post_init__(self) -> None:
        # whatever a policy or a caller says, a limit stays one the OS and timers accept
        for name, (low, high) in LIMIT_BOUNDS.items():
            value = getattr(self, name)
            bounded = high if not math.isfinite(value) else min(max(value, low), high)
            object.__setattr__(self, name, type(high)(bounded))


LIMIT_BOUNDS: dict[str, tuple[float, float] | tuple[int, int]] = {
    "timeout_s": (0.001, 3600.0),
    "cpu_s": (0.001, 3600.0),
    "memory_mb": (1, 65536),
    "file_size_mb": (1, 4096),
    "processes": (1, 4096),
}
"""The range each limit is clamped to."""


@dataclass(frozen=True)
class RunResult:
    """The outcome of calling one function."""

    ok: bool
    """Whether the function returned."""
    value: JsonValue = None
    """What it returned (JSON-able), when ``ok``."""
    error: str | None = None
    """What went wrong, for a person (exception type and message, or the limit hit)."""
    error_kind: ErrorKind | None = None
    """The class of failure."""
    duration_ms: float = 0.0
    """Wall-clock time of the run, as the caller saw it."""
    sandbox: str = ""
    """The backend that ran it."""
    output: str = ""
    """What the code printed (truncated)."""


@dataclass(frozen=True)
class TestRun:
    """The outcome of running a tool's tests."""

    __test__ = False  # not a pytest test class

    passed: int
    """Test functions that passed."""
    failed: int
    """Test functions that failed or raised (or the count expected when the run died)."""
    output: str = ""
    """Per-test results and tracebacks (truncated)."""
    duration_ms: float = 0.0
    """Wall-clock time of the whole run."""
    sandbox: str = ""
    """The backend that ran it."""
    failures: dict[str, str] = field(default_factory=dict)
    """Test name -> why it failed."""

    @property
    def ok(self) -> bool:
        """Whether there were tests and all passed."""
        return self.passed > 0 and self.failed == 0


class Sandbox(Closeable, ABC):
    """Runs tool code in isolation."""

    name: str
    """``subprocess``, ``bwrap`` or ``docker``."""

    @abstractmethod
    def run(
        self,
        code: str,
        function: str,
        arguments: dict[str, JsonValue],
        limits: Limits | None = None,
    ) -> RunResult:
        """Define ``code`` as a module and call ``function(**arguments)`` in the sandbox.

        The value must be JSON-able; anything else is a failure (``error_kind="exception"``).
        Runs may go through a warm pool of workers; a worker that misbehaves is replaced.
        """

    @abstractmethod
    def run_tests(self, code: str, tests: str, limits: Limits | None = None) -> TestRun:
        """Define ``code``, then run every ``test_*`` function of ``tests`` against it.

        The tests' module sees every name ``code`` defines. A test passes when it returns
        without raising.
        """

    def describe(self) -> str:
        """One line for ``selfeng doctor``: the backend and the isolation it gives."""
        return self.name

    def close(self) -> None:
        """Stop warm workers."""
