"""The HTTP API: cached-answer latency through ``POST /v1/requests?wait`` against the
in-process ``Agent.ask`` in the same run; requests per second with 1 and 4 uvicorn workers;
and the live stream's fan-out to 100 SSE subscribers (delivery latency p95).

Run: ``python bench/bench_http.py [REQUESTS] [--seconds S] [--subscribers N]`` (defaults
300, 10, 100). Servers are real ``selfeng serve`` processes on a temporary SQLite home
(``--insecure-localhost``); the load and the subscribers run in this process with httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.mapper import append_events
from selfeng.core.settings import Settings
from selfeng.schemas import Event, PolicyChanged

PROMPTS = [f"What is {p}% of {v}?" for p in (10, 20, 25, 30, 40) for v in (50, 80, 100, 200)]
"""Twenty requests answered once to warm the cache, then always from it."""


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def served(home: Path, workers: int) -> Iterator[str]:
    """``selfeng serve`` on ``home`` with ``workers`` uvicorn workers; yields its URL."""
    port = _free_port()
    env = {**os.environ, "SELFENG_HOME": str(home)}
    env.pop("SELFENG_LOG", None)
    env.pop("SELFENG_STORE", None)
    command = [sys.executable, "-m", "selfeng", "serve", "--insecure-localhost"]
    command += ["--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("selfeng serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def in_process_latency(home: Path, n: int) -> list[float]:
    """Client-side ms of ``Agent.ask`` answering from the cache, in a warm process."""
    with Selfeng.open(Settings.resolve(home=home, env={})) as app:
        agent = Agent(app, client="bench")
        for prompt in PROMPTS:
            agent.ask(prompt)
        samples = []
        for i in range(n):
            started = time.perf_counter()
            answer = agent.ask(PROMPTS[i % len(PROMPTS)])
            samples.append((time.perf_counter() - started) * 1000)
            assert answer.cached, answer
        return samples


def http_latency(url: str, n: int) -> list[float]:
    """Client-side ms of ``POST /v1/requests?wait`` answering from the cache."""
    samples = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for prompt in PROMPTS:
            http.post("/v1/requests", params={"wait": 10}, json={"prompt": prompt})
        for i in range(n):
            started = time.perf_counter()
            response = http.post(
                "/v1/requests", params={"wait": 10}, json={"prompt": PROMPTS[i % len(PROMPTS)]}
            )
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
            assert response.json()["cached"], response.text
    return samples


async def _throughput(url: str, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    done = 0
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def client(k: int) -> None:
            nonlocal done
            i = k
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = await http.post(
                    "/v1/requests",
                    params={"wait": 30},
                    json={"prompt": PROMPTS[i % len(PROMPTS)]},
                )
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
                done += 1
                i += concurrency

        await asyncio.gather(*(client(k) for k in range(concurrency)))
    return done, latencies


def throughput(url: str, seconds: float, concurrency: int) -> tuple[float, float, float]:
    """Requests per second, p50 and p95 ms, for ``concurrency`` clients over ``seconds``."""
    with httpx.Client(base_url=url, timeout=30) as http:  # every worker's cache warm
        for _ in range(4):
            for prompt in PROMPTS:
                http.post("/v1/requests", params={"wait": 10}, json={"prompt": prompt})
    started = time.perf_counter()
    done, latencies = asyncio.run(_throughput(url, seconds, concurrency))
    return done / (time.perf_counter() - started), *p50_p95(latencies)


async def _fan_out(url: str, home: Path, subscribers: int, events: int) -> list[float]:
    delays: list[float] = []
    ready = asyncio.Event()
    connected = 0
    limits = httpx.Limits(max_connections=subscribers + 10)
    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits) as http:

        async def subscriber() -> None:
            nonlocal connected
            params = {"type": "PolicyChanged"}
            async with http.stream("GET", "/v1/events/stream", params=params) as response:
                got = 0
                async for line in response.aiter_lines():
                    if line.startswith(": connected"):
                        connected += 1
                        if connected == subscribers:
                            ready.set()
                    if line.startswith("data: "):
                        sent = orjson.loads(line[6:])["value"]
                        delays.append((time.time() - sent) * 1000)
                        got += 1
                        if got == events:
                            return

        tasks = [asyncio.create_task(subscriber()) for _ in range(subscribers)]
        await asyncio.wait_for(ready.wait(), 60)
        with Selfeng.open(Settings.resolve(home=home, env={})) as app:
            for _ in range(events):  # one event every 20 ms, stamped with its send time
                batch: list[Event] = [PolicyChanged(name="bench.sent", value=time.time())]
                append_events(app.log, batch)
                await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("requests", nargs="?", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="selfeng-bench-http-") as tmp:
        home = Path(tmp) / "home"
        with Selfeng.open(Settings.resolve(home=home, env={})) as app:
            app.seed_tools()
        local = p50_p95(in_process_latency(home, args.requests))
        with served(home, 1) as url:
            over_http = p50_p95(http_latency(url, args.requests))
        rows.append(("Agent.ask, in process", "", *(f"{v:.2f}" for v in local)))
        rows.append(("POST /v1/requests?wait, 1 worker", "", *(f"{v:.2f}" for v in over_http)))
        for workers in (1, 4):
            with served(home, workers) as url:
                rate, p50, p95 = throughput(url, args.seconds, concurrency=16)
            rows.append(
                (
                    f"POST ?wait, {workers} worker(s), 16 clients",
                    f"{rate:.0f}",
                    f"{p50:.2f}",
                    f"{p95:.2f}",
                )
            )
        with served(home, 1) as url:
            delays = asyncio.run(_fan_out(url, home, args.subscribers, args.events))
        expected = args.subscribers * args.events
        assert len(delays) == expected, f"{len(delays)} of {expected} deliveries"
        fan = p50_p95(delays)
        rows.append(
            (
                f"SSE: append -> {args.subscribers} subscribers ({len(delays):,} deliveries)",
                "",
                *(f"{v:.2f}" for v in fan),
            )
        )
    print(
        f"\ncached answers ({args.requests} sequential requests), throughput over "
        f"{args.seconds:.0f} s, {os.cpu_count()} CPUs; every event durably appended (SQLite WAL)\n"
    )
    print(table(rows, ("what", "requests/s", "p50 ms", "p95 ms")))


if __name__ == "__main__":
    main()
