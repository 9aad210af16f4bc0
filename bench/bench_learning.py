"""Learning on the embedded default: how fast a composite follows its evidence, and what it
saves the seed's multi-tool scenario.

Run: ``python bench/bench_learning.py [REQUESTS] [SANDBOX_URL]`` (default 30 requests per
row, the strongest sandbox that works here).

- Learning reaction: from the append of the RequestCompleted that makes "percent_of >
  reverse_string" meet the promotion policy (its third success) to the append of
  CompositeRegistered, with the pattern detected, the composite built from the members' code,
  its recorded runs tested in the sandbox and every event durably appended. Measured on fresh
  stores, both on the process clock and as the log's own timestamps.
- The scenario "Calculate P% of V and reverse the result": latency of the request with two
  sandbox calls (before the composite), with one (the composite), and from the cache; for
  reference, one warm sandbox call of the bare percent_of, and the two functions called as
  plain Python in this process (no sandbox, no log).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.sandbox import Limits
from selfeng.core.settings import Settings
from selfeng.schemas import CompositeRegistered, PolicyChanged, RequestCompleted, RequestReceived

SCENARIO = "Calculate {p}% of {v} and reverse the result"


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def reaction(sandbox: str | None) -> tuple[float, float]:
    """One fresh store: ms from the third success to CompositeRegistered (clock, log)."""
    with tempfile.TemporaryDirectory(prefix="selfeng-bench-") as tmp:
        settings = Settings.resolve(home=Path(tmp), sandbox=sandbox, env={})
        with Selfeng.open(settings) as app:
            app.seed_tools()
            agent = Agent(app, client="bench")
            agent.ask(SCENARIO.format(p=1, v=100))
            agent.ask(SCENARIO.format(p=2, v=100))
            received = RequestReceived(prompt=SCENARIO.format(p=3, v=100), answered_inline=True)
            app.append([received])
            events = app.handler.handle(received, app.handler_state())
            app.append(events)
            started = time.perf_counter()
            learnt = app.learn(events)
            elapsed = (time.perf_counter() - started) * 1000
            completed = next(e for e in events if isinstance(e, RequestCompleted))
            registered = next(e for e in learnt if isinstance(e, CompositeRegistered))
            in_log = (registered.occurred_at - completed.occurred_at).total_seconds() * 1000
            return elapsed, in_log


def scenario(sandbox: str | None, n: int) -> dict[str, tuple[float, float]]:
    rows: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="selfeng-bench-") as tmp:
        settings = Settings.resolve(home=Path(tmp), sandbox=sandbox, env={})
        with Selfeng.open(settings) as app:
            app.seed_tools()
            # While "before" is measured the pattern must not be promoted: a policy change
            # (an event, like any) holds it back, and a second one lets it go.
            hold = PolicyChanged(name="composite.min_frequency", value=10**9, reason="bench")
            app.append([hold])
            agent = Agent(app, client="bench")
            agent.ask(SCENARIO.format(p=1, v=7))  # warm the pool and the index

            def timed(agent: Agent, prompt: str) -> tuple[float, tuple[str, ...], bool]:
                start = time.perf_counter()
                answer = agent.ask(prompt)
                assert answer.ok, answer.text
                return (time.perf_counter() - start) * 1000, answer.tools, answer.cached

            two = [timed(agent, SCENARIO.format(p=i + 10, v=100)) for i in range(n)]
            assert all(len(tools) == 2 and not cached for _, tools, cached in two)
            rows["two sandbox calls (no composite yet)"] = p50_p95([t for t, _, _ in two])
            app.append([PolicyChanged(name="composite.min_frequency", value=3, reason="bench")])
            agent.ask(SCENARIO.format(p=500, v=100))  # meets the policy: the composite is built
            one = [timed(agent, SCENARIO.format(p=i + 1000, v=100)) for i in range(n)]
            assert all(tools == ("percent_of_then_reverse_string@1",) for _, tools, _ in one)
            rows["composite: one sandbox call"] = p50_p95([t for t, _, _ in one])
            cached = [timed(agent, SCENARIO.format(p=1000, v=100)) for _ in range(n)]
            assert all(c for _, _, c in cached)
            rows["composite, from the cache"] = p50_p95([t for t, _, _ in cached])
            record = app.registry()["tools"]["percent_of"]["versions"]["1"]
            limits = Limits(timeout_s=10.0, memory_mb=256)
            bare = []
            for i in range(n):
                start = time.perf_counter()
                app.sandbox.run(record["code"], "percent_of", {"percent": i, "value": 3}, limits)
                bare.append((time.perf_counter() - start) * 1000)
            rows["reference: one warm sandbox call, no log"] = p50_p95(bare)
            rows["reference: both functions as plain Python"] = plain_python(n)
            rows["sandbox: " + app.sandbox.name] = (0.0, 0.0)
    return rows


def plain_python(n: int) -> tuple[float, float]:
    def percent_of(percent: float, value: float) -> float:
        return percent * value / 100

    def reverse_string(text: str) -> str:
        return text[::-1]

    samples = []
    for i in range(n):
        start = time.perf_counter()
        reverse_string(str(percent_of(i, 100)))
        samples.append((time.perf_counter() - start) * 1000)
    return p50_p95(samples)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    sandbox = sys.argv[2] if len(sys.argv) > 2 else None
    runs = [reaction(sandbox) for _ in range(5)]
    clock = [c for c, _ in runs]
    logged = [t for _, t in runs]
    print("\nlearning reaction: third success -> CompositeRegistered, 5 fresh stores\n")
    print(
        table(
            [
                ("process clock", f"{statistics.median(clock):.1f}", f"{max(clock):.1f}"),
                ("log timestamps", f"{statistics.median(logged):.1f}", f"{max(logged):.1f}"),
            ],
            ("measured on", "median ms", "max ms"),
        )
    )
    rows = scenario(sandbox, n)
    name = next(k for k in rows if k.startswith("sandbox: ")).removeprefix("sandbox: ")
    print(f"\nthe seed's scenario, {n} requests per row, sandbox {name}, warm process\n")
    print(
        table(
            [(k, f"{a:.2f}", f"{b:.2f}") for k, (a, b) in rows.items() if "sandbox: " not in k],
            ("request", "p50 ms", "p95 ms"),
        )
    )


if __name__ == "__main__":
    main()
