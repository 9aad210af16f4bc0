"""Right, confidently wrong or honest: everyday requests answered twice, rated in between.

The set (``bench/data/everyday_requests.jsonl``) holds everyday requests for the starter
library, written as people type them, each with its expected answer: single tools, chains
("... and reverse the result"), several questions in one request, follow-ups in a session,
and requests no starter tool can answer (the only right answer is to abstain). It is split
in two by a seeded hash of each line's id (a session's lines stay together): ``dev`` is the
half the project's rules were looked at against, ``held-out`` the half they never were.

One fresh home answers every request in order (pass 1); every answer is rated as a user
would (good when right, bad when wrong or when an answerable request got no answer); then
every request is asked again (pass 2). Printed per split and pass:

- right: answerable requests answered with the expected value;
- confidently wrong: answers given as ``ok`` with another value (answerable or not);
- abstained: answerable requests not answered; unanswerable ones answered honestly;
- rated bad, given again: answers rated bad in pass 1 that pass 2 gives again.

Usage: ``python bench/bench_answers.py [--show wrong|abstained|all] [--split dev|held-out]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfeng.agent import Agent, Answer
from selfeng.app import Selfeng
from selfeng.core.policies import parse_policy_assignment
from selfeng.core.settings import Settings
from selfeng.schemas import PolicyChanged

DATA = Path(__file__).parent / "data" / "everyday_requests.jsonl"
SEED = "selfeng-answers-1"


@dataclass
class Case:
    """One request of the set."""

    id: str
    prompt: str
    kind: str
    expected: Any
    tools: list[str]
    session: str | None = None
    note: str = ""

    @property
    def answerable(self) -> bool:
        return self.expected is not None

    @property
    def split(self) -> str:
        group = self.session or self.id
        digest = hashlib.sha256(f"{SEED}:{group}".encode()).digest()
        return "dev" if digest[0] % 2 == 0 else "held-out"


@dataclass
class Outcome:
    """How one request was answered."""

    case: Case
    answer: Answer
    verdict: str  # right | wrong | abstained

    @property
    def label(self) -> str:
        return f"{self.case.id}: {self.case.prompt!r} -> ok={self.answer.ok} {self.answer.text!r}"


@dataclass
class Tally:
    """Counts of one split and pass."""

    answerable: int = 0
    unanswerable: int = 0
    right: int = 0
    wrong: int = 0
    abstained: int = 0
    abstained_ok: int = 0  # unanswerable and honestly not answered
    repeated_bad: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.answerable + self.unanswerable


def load(path: Path = DATA) -> list[Case]:
    """The set, in file order."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(
                Case(
                    id=row["id"],
                    prompt=row["prompt"],
                    kind=row["kind"],
                    expected=row["expected"],
                    tools=row.get("tools", []),
                    session=row.get("session"),
                    note=row.get("note", ""),
                )
            )
    return cases


def same(value: Any, expected: Any) -> bool:
    """Whether an answer's value is the expected one (numbers to a relative 1e-6)."""
    if isinstance(expected, list):
        return (
            isinstance(value, list)
            and len(value) == len(expected)
            and all(same(v, e) for v, e in zip(value, expected, strict=True))
        )
    if isinstance(expected, bool) or isinstance(value, bool):
        return bool(value == expected)
    if isinstance(expected, int | float):
        number = value
        if isinstance(value, str):
            try:
                number = float(value.replace(",", ""))
            except ValueError:
                return False
        if not isinstance(number, int | float):
            return False
        # relative: an absolute tolerance would take 1e-06 for 6.2e-07 (1 mm in miles); zero
        # itself is matched by a tolerance far below any value a request asks for
        return math.isclose(float(number), float(expected), rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(expected, str):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value) == expected
    return bool(value == expected)


def judge(case: Case, answer: Answer) -> str:
    """right, wrong or abstained."""
    if not answer.ok:
        return "abstained"
    if case.answerable and same(answer.value, case.expected):
        return "right"
    return "wrong"


def run_pass(agent: Agent, cases: list[Case], suffix: str) -> list[Outcome]:
    """Ask every request once, in order (sessions keep their own conversation)."""
    outcomes = []
    for case in cases:
        session = f"{case.session}{suffix}" if case.session else None
        answer = agent.ask(case.prompt, session_id=session)
        outcomes.append(Outcome(case, answer, judge(case, answer)))
    return outcomes


def rate(agent: Agent, outcomes: list[Outcome]) -> set[str]:
    """Rate as a user would; the ids of the cases rated bad with a given (ok) answer."""
    rated_bad: set[str] = set()
    for outcome in outcomes:
        if outcome.verdict == "right":
            agent.feedback(outcome.answer.request_id, "good")
        elif outcome.verdict == "wrong":
            agent.feedback(outcome.answer.request_id, "bad")
            rated_bad.add(outcome.case.id)
        elif outcome.case.answerable and outcome.answer.tools:
            agent.feedback(outcome.answer.request_id, "bad")
    return rated_bad


def tally(outcomes: list[Outcome], split: str, first: dict[str, Outcome] | None) -> Tally:
    t = Tally()
    for outcome in outcomes:
        case = outcome.case
        if split != "all" and case.split != split:
            continue
        t.outcomes.append(outcome)
        if case.answerable:
            t.answerable += 1
            if outcome.verdict == "right":
                t.right += 1
            elif outcome.verdict == "wrong":
                t.wrong += 1
            else:
                t.abstained += 1
        else:
            t.unanswerable += 1
            if outcome.verdict == "abstained":
                t.abstained_ok += 1
            else:
                t.wrong += 1
        if first is not None and outcome.answer.ok:
            before = first[case.id]
            if before.verdict == "wrong" and same(outcome.answer.value, before.answer.value):
                t.repeated_bad += 1
    return t


def row(name: str, t: Tally) -> str:
    answerable = max(t.answerable, 1)
    return (
        f"| {name:<18} | {t.total:>8} | {t.right:>4} ({100 * t.right / answerable:5.1f}%) "
        f"| {t.wrong:>4} ({100 * t.wrong / max(t.total, 1):4.1f}%) "
        f"| {t.abstained:>4} | {t.abstained_ok:>3}/{t.unanswerable:<3} | {t.repeated_bad:>4} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show",
        choices=["wrong", "abstained", "all", "changed"],
        default=None,
        help="list these outcomes (changed: requests right in one pass and not the other)",
    )
    parser.add_argument("--split", choices=["dev", "held-out", "all"], default="all")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--only", choices=["dev", "held-out"], default=None, help="ask only this split's requests"
    )
    parser.add_argument(
        "--policy", action="append", default=[], metavar="K=V", help="set a policy first"
    )
    args = parser.parse_args()
    cases = load(args.data)
    if args.only:
        cases = [c for c in cases if c.split == args.only]
    kinds = Counter(c.kind for c in cases)
    splits = Counter(c.split for c in cases)
    print(
        f"{len(cases)} requests ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
        f"dev {splits['dev']}, held-out {splits['held-out']}"
    )
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.resolve(home=home, env={"SELFENG_LLM": "off"})
        with Agent(Selfeng.open(settings), client="bench") as agent:
            for assignment in args.policy:
                name, value = parse_policy_assignment(assignment)
                agent.app.append([PolicyChanged(name=name, value=value, reason="bench")])
            started = time.perf_counter()
            first = run_pass(agent, cases, "")
            first_s = time.perf_counter() - started
            rate(agent, first)
            started = time.perf_counter()
            second = run_pass(agent, cases, "-again")
            second_s = time.perf_counter() - started
    by_id = {o.case.id: o for o in first}
    print()
    print("| split, pass         | requests | right (of answerable) | confidently wrong "
          "| abstained | honest on unanswerable | rated bad, given again |")  # fmt: skip
    print("|--------------------|----------|-----------------------|-------------------"
          "|-----------|------------------------|------------------------|")  # fmt: skip
    for split in ("dev", "held-out", "all"):
        for name, outcomes, previous in (("1", first, None), ("2", second, by_id)):
            print(row(f"{split}, pass {name}", tally(outcomes, split, previous)))
    print(
        f"\npass 1 took {first_s:.1f} s ({1000 * first_s / len(cases):.1f} ms a request), "
        f"pass 2 {second_s:.1f} s"
    )
    if args.show == "changed":
        for a, b in zip(first, second, strict=True):
            if (a.verdict == "right") != (b.verdict == "right") and (
                args.split == "all" or a.case.split == args.split
            ):
                print(f"  [{a.verdict} -> {b.verdict}] {a.label}\n      then {b.answer.text!r}")
    elif args.show:
        for name, outcomes in (("pass 1", first), ("pass 2", second)):
            shown = [
                o
                for o in outcomes
                if (args.split == "all" or o.case.split == args.split)
                and (args.show == "all" or o.verdict == args.show)
            ]
            print(f"\n{name}: {len(shown)} {args.show}")
            for o in shown:
                print(f"  [{o.verdict}] {o.label}  (expected {o.case.expected!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
