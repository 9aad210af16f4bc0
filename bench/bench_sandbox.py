"""Latency of a trivial tool call through the sandboxes, next to the bare costs under them.

Run: ``python bench/bench_sandbox.py [WARM_CALLS] [COLD_CALLS]`` (default 500 and 40).
Prints a Markdown table of p50 and p95 in milliseconds:

- the floor: one round trip over a pipe to a warm ``python -I -S`` child that echoes a line,
  plain and inside bubblewrap; starting a fresh ``python -I -S -c pass`` and waiting for it,
  plain and inside bubblewrap (the real interpreter binary, not a venv shim);
- a trivial tool call (``def f(x): return x``) through ``Sandbox.run``: through the warm pool
  (``workers=2``: a forked child per call, limits, private uid, guard, JSON both ways) and
  through a cold sandbox (``workers=0``: a fresh worker per call, started and stopped).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from selfeng.core.sandbox import Sandbox
from selfeng.infra.sandbox.bwrap import MINIMAL_ISOLATION, BwrapSandbox, bwrap_problem
from selfeng.infra.sandbox.subprocess import SubprocessSandbox, real_python

ECHO = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()\n"
BWRAP = ["bwrap", *MINIMAL_ISOLATION, "--tmpfs", "/tmp", "--"]
TOOL = "def f(x):\n    return x\n"


def percentiles(samples: list[float]) -> tuple[str, str]:
    """p50 and p95 of seconds, as milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.2f}", f"{p95 * 1000:.2f}"


def timed(n: int, fn: Callable[[int], object], warmup: int = 5) -> list[float]:
    """Seconds per call of ``fn(i)``, after a few unmeasured calls."""
    for i in range(warmup):
        fn(i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def pipe_round_trip(prefix: list[str], n: int) -> list[float]:
    """A warm child echoing lines: the cost of the pipe alone."""
    child = subprocess.Popen(
        [*prefix, real_python(), "-I", "-S", "-c", ECHO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    stdin, stdout = child.stdin, child.stdout

    def round_trip(i: int) -> None:
        line = b'{"x": %d}\n' % i
        stdin.write(line)
        assert stdout.readline() == line

    try:
        return timed(n, round_trip)
    finally:
        stdin.close()
        child.wait()


def cold_start(prefix: list[str], n: int) -> list[float]:
    """Starting a fresh interpreter that does nothing, and waiting for it."""
    argv = [*prefix, real_python(), "-I", "-S", "-c", "pass"]
    return timed(n, lambda _: subprocess.run(argv, check=True), warmup=2)


def tool_calls(sandbox: Sandbox, n: int, warmup: int = 5) -> list[float]:
    """A trivial tool call through ``Sandbox.run``."""

    def call(i: int) -> None:
        result = sandbox.run(TOOL, "f", {"x": i})
        assert result.value == i, result

    try:
        return timed(n, call, warmup)
    finally:
        sandbox.close()


def main() -> None:
    warm = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    cold = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    bwrap = bwrap_problem() is None
    rows: list[tuple[str, ...]] = []

    def row(what: str, samples: list[float]) -> None:
        rows.append((what, str(len(samples)), *percentiles(samples)))
        print(f"  {what}: p50 {rows[-1][2]} ms", file=sys.stderr)

    row("warm pipe round trip, python -I -S", pipe_round_trip([], warm))
    if bwrap:
        row("warm pipe round trip, inside bwrap", pipe_round_trip(BWRAP, warm))
    row("cold python -I -S -c pass", cold_start([], cold))
    if bwrap:
        row("cold python -I -S -c pass, inside bwrap", cold_start(BWRAP, cold))
    row("tool call, subprocess:// warm pool", tool_calls(SubprocessSandbox(workers=2), warm))
    if bwrap:
        row("tool call, bwrap:// warm pool", tool_calls(BwrapSandbox(workers=2), warm))
    row("tool call, subprocess:// cold", tool_calls(SubprocessSandbox(workers=0), cold, 2))
    if bwrap:
        row("tool call, bwrap:// cold", tool_calls(BwrapSandbox(workers=0), cold, 2))
    print(table(rows, ("what", "n", "p50 ms", "p95 ms")))
    if not bwrap:
        print(f"\n(bwrap rows skipped: {bwrap_problem()})")


if __name__ == "__main__":
    main()
