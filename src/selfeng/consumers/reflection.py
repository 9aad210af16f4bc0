"""Reflection: a failed tool run is analysed, then repaired, rolled back or deprecated.

On each failed ToolExecuted it records FailureAnalyzed (kind and evidence). When the failure
is the tool's fault and the failing version is still active: with an LLM it asks for a fix
plus one ``test_regression_*`` test that must fail on the current code, and proposes the fix
as a new version tested with the old tests and the new one (RepairProposed, ToolProposed
origin "repair", verification, ToolRepaired). Without an LLM, or when every attempt failed,
it rolls back to a better registered version or deprecates a version that fails too often.

Every id derives from the failure reacted to and the learner continues from the copies the
log returns, so reacting twice stores nothing twice and pays for no second call.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from selfeng.consumers.learner import BudgetExhausted, Learner, LLMCaller
from selfeng.consumers.verifier import verify
from selfeng.core.llm import LLM
from selfeng.core.log import ConcurrencyConflict
from selfeng.core.sandbox import Limits, SandboxUnavailable
from selfeng.core.tooldef import ToolSourceError, parse_module, parse_tool
from selfeng.projections.registry import (
    RegistryState,
    VersionRecord,
    next_version,
    stats_of,
    success_rate,
)
from selfeng.schemas import (
    ChatMessage,
    Event,
    FailureAnalyzed,
    LLMCalled,
    RepairProposed,
    ToolDeprecated,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
    ToolRepaired,
    ToolRolledBack,
    ToolSpec,
)
from selfeng.schemas.requests import ErrorKind

logger = logging.getLogger(__name__)

PRODUCER = "selfeng.learner.reflection"
"""The producer of the events reflection appends."""

TOOL_FAULTS: frozenset[ErrorKind] = frozenset(
    {"exception", "timeout", "memory", "resource_limit", "forbidden"}
)
"""Failure kinds that are the tool's fault, so a repair or a rollback may help."""

MAX_EVIDENCE = 2000
"""Characters of error and arguments kept in an event."""

_WHERE = re.compile(r"\(line (\d+) of the code, in \w+\)\s*$")
_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def is_tool_fault(kind: ErrorKind) -> bool:
    """Whether a failure of this kind is the tool's own (bad arguments and sandbox are not)."""
    return kind in TOOL_FAULTS


def classify(executed: ToolExecuted, code: str | None = None) -> tuple[ErrorKind, str]:
    """The kind of a failed run and the evidence, one line: error, arguments, version.

    ``error_kind`` is refined: an "exception" that is a TypeError about the call's own
    arguments (an unexpected keyword, a missing required argument), or a ValueError, KeyError,
    LookupError or IndexError the tool raised on purpose (its line in ``code``, the version's
    source, is a ``raise``), is "bad_arguments". Without the code, a ValueError counts as on
    purpose and the others do not.
    """
    kind: ErrorKind = executed.error_kind or "exception"
    error = executed.error or kind
    if kind == "exception" and (
        _binding_error(executed.tool, error) or _deliberate_value_error(error, code)
    ):
        kind = "bad_arguments"
    arguments = orjson.dumps(executed.arguments, option=orjson.OPT_SORT_KEYS).decode()
    evidence = (
        f"{executed.tool}@{executed.version} failed ({kind}): {error} with arguments {arguments}"
    )
    return kind, evidence[:MAX_EVIDENCE]


def _binding_error(tool: str, error: str) -> bool:
    called = rf"^(TypeError: )?{re.escape(tool)}\(\) "
    wrong = r"(got an unexpected keyword argument|missing \d+ required|got multiple values)"
    return re.match(called + wrong, error) is not None


_INPUT_ERRORS = frozenset({"ValueError", "KeyError", "LookupError", "IndexError"})
"""Exceptions a tool raises on purpose to refuse its input (a ``raise`` line in its code)."""


def _deliberate_value_error(error: str, code: str | None) -> bool:
    name = error.split(":", 1)[0].strip()
    if name not in _INPUT_ERRORS:
        return False
    where = _WHERE.search(error)
    if code is None or where is None:
        return name == "ValueError"
    lines = code.splitlines()
    line = int(where.group(1))
    return 0 < line <= len(lines) and lines[line - 1].strip().startswith("raise")


@dataclass(frozen=True)
class Fallback:
    """What to do with a failing version that was not repaired."""

    action: Literal["rollback", "deprecate"]
    """Roll back to ``to_version``, or deprecate the failing version."""
    to_version: int | None
    """The version to roll back to; None for a deprecation."""
    reason: str
    """Why, with the numbers."""


def plan_fallback(
    registry: RegistryState,
    tool: str,
    version: int,
    *,
    min_executions: int,
    deprecate_failure_rate: float,
) -> Fallback | None:
    """Roll back, deprecate, or None (keep watching), from the registry's record of use.

    The best other registered version (highest Laplace-smoothed success rate, ties to the
    highest version) is rolled back to when its rate beats the failing one's. Otherwise the
    failing version is deprecated once it ran ``min_executions`` times and failed in at
    least ``deprecate_failure_rate`` of them.
    """
    record = registry["tools"].get(tool)
    if record is None:
        return None
    stats = stats_of(registry, tool, version)
    rate = success_rate(stats)
    others = [
        (success_rate(stats_of(registry, tool, int(v))), int(v))
        for v, r in record["versions"].items()
        if int(v) != version and r["status"] == "registered"
    ]
    if others:
        best_rate, best = max(others)
        if best_rate > rate:
            return Fallback(
                "rollback",
                best,
                f"v{version} success rate {rate:.2f} < v{best} {best_rate:.2f} (smoothed)",
            )
    runs = stats["executions"]
    failure_rate = 1 - stats["successes"] / runs if runs else 0.0
    if runs >= min_executions and failure_rate >= deprecate_failure_rate:
        return Fallback(
            "deprecate",
            None,
            f"v{version} failed {runs - stats['successes']} of {runs} runs "
            f"(repair.deprecate_failure_rate = {deprecate_failure_rate})",
        )
    return None


def repair_messages(
    executed: ToolExecuted, record: VersionRecord, kind: ErrorKind
) -> list[ChatMessage]:
    """The prompt asking for a fix: the version's code and tests, the failing call and error."""
    arguments = orjson.dumps(executed.arguments, option=orjson.OPT_SORT_KEYS).decode()
    task = (
        f"The tool `{executed.tool}` (version {executed.version}) failed.\n\n"
        f"Its code:\n```python\n{record['code'].rstrip()}\n```\n\n"
        f"Its tests (they pass):\n```python\n{record['tests'].rstrip()}\n```\n\n"
        f"The failing call: {executed.tool}(**{arguments})\n"
        f"The error ({kind}): {executed.error or kind}\n\n"
        f"Reply with the whole fixed module (the function `{executed.tool}` with the same "
        "parameters, type hints and docstring) followed by ONE new test function named "
        "`test_regression_<what>` that reproduces this failure: it must fail on the code "
        "above and pass on your fix. Put both in one ```python block, then say in one "
        "sentence why the fix works."
    )
    return [
        ChatMessage(
            role="system",
            content="You repair small Python tools. Keep the interface; fix the bug.",
        ),
        ChatMessage(role="user", content=task),
    ]


@dataclass(frozen=True)
class _Fix:
    code: str
    spec: ToolSpec
    test: str
    rationale: str


class _GiveUp(Exception):
    """The repair cannot go on (the tool changed meanwhile, or no sandbox)."""


class Reflection(Learner):
    """Analyses failed tool runs; repairs, rolls back or deprecates the failing version."""

    name = "reflection"
    reacts_to = frozenset({"ToolExecuted"})

    def wants(self, event: Event) -> bool:
        """Failed executions only."""
        return isinstance(event, ToolExecuted) and not event.ok

    def react(self, event: Event) -> list[Event]:
        """Record the analysis, then repair or fall back while the version is active."""
        assert isinstance(event, ToolExecuted)
        record, active = self._current(event)
        kind, evidence = classify(event, record["code"] if record else None)
        analyzed = FailureAnalyzed.following(
            event,
            event_id=self.event_id(event, "analyzed"),
            tool=event.tool,
            version=event.version,
            request_id=event.request_id,
            kind=kind,
            evidence=evidence,
            producer=PRODUCER,
        )
        out = self.ports.record([analyzed])
        if record is None or not is_tool_fault(kind) or not active:
            return out
        llm = self.ports.llm
        if llm is not None and not record["spec"].get("composition"):  # composites: roll back
            try:
                if self._repair(event, record, kind, llm, out):
                    return out
            except (_GiveUp, SandboxUnavailable) as exc:
                logger.info("no repair of %s@%s: %s", event.tool, event.version, exc)
        out += self._fall_back(event, evidence)
        return out

    # -- repair ------------------------------------------------------------------------------

    def _repair(
        self,
        executed: ToolExecuted,
        record: VersionRecord,
        kind: ErrorKind,
        llm: LLM,
        out: list[Event],
    ) -> bool:
        """Ask for fixes until one is registered; False when attempts or budget ran out."""
        attempts = int(self._policy("cost.max_synthesis_attempts"))
        limits = Limits(
            timeout_s=self._policy("sandbox.timeout_seconds"),
            memory_mb=int(self._policy("sandbox.memory_mb")),
        )
        caller = LLMCaller(self.ports, llm, producer=PRODUCER)
        messages = repair_messages(executed, record, kind)
        for attempt in range(1, attempts + 1):
            try:
                called = caller.call(
                    messages,
                    subject=f"repair:{executed.tool}@{executed.version}",
                    purpose="repair",
                    attempt=attempt,
                    cause=executed,
                )
            except BudgetExhausted as exc:
                logger.info("repair of %s@%s stops: %s", executed.tool, executed.version, exc)
                return False
            out.append(called)
            if not called.ok:
                continue  # the model failed: try again with the same prompt
            fix = self._read_fix(executed, record, called.response, limits)
            problem = fix if isinstance(fix, str) else None
            if isinstance(fix, _Fix):
                problem = self._propose(executed, record, fix, called, attempt, limits, out)
                if problem is None:
                    return True
            messages = [
                *messages,
                ChatMessage(role="assistant", content=called.response),
                ChatMessage(
                    role="user",
                    content=f"That attempt failed: {problem}\nReply again with the whole "
                    "fixed module and one test_regression_ function in one ```python block.",
                ),
            ]
        return False

    def _read_fix(
        self, executed: ToolExecuted, record: VersionRecord, response: str, limits: Limits
    ) -> _Fix | str:
        """The fix in a reply, or what is wrong with it (fed back to the model)."""
        block = _BLOCK.search(response)
        if block is None:
            return "the reply has no ```python block"
        source = block.group(1)
        try:
            module = parse_module(source)
            tool = parse_tool(source, executed.tool)
        except (SyntaxError, ToolSourceError) as exc:
            return f"the module is not a usable tool: {exc}"
        regressions = [
            node
            for node in module.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_regression_")
        ]
        if len(regressions) != 1:
            return f"it has {len(regressions)} test_regression_ functions; write exactly one"
        test_name = regressions[0].name
        if re.search(rf"def {test_name}\b", record["tests"]):
            return f"the tool already has a test named {test_name}; pick another name"
        wanted = record["spec"].get("parameters", {})
        if _signature(tool.spec.parameters) != _signature(wanted):
            return "the fix changes the tool's parameters; keep them as they are"
        imports = [n for n in module.body if isinstance(n, ast.Import | ast.ImportFrom)]
        test = ast.unparse(ast.Module(body=[*imports, regressions[0]], type_ignores=[])) + "\n"
        run = self.ports.sandbox.run_tests(record["code"], test, limits)
        if run.passed + run.failed == 0:
            return f"the test did not run on the current code: {run.output[-500:]}"
        if run.ok:
            return (
                f"{test_name} passes on the current code, so it does not reproduce the "
                "failure; write one that fails on it with the error above"
            )
        rationale = (response[: block.start()] + response[block.end() :]).strip()
        return _Fix(tool.code, tool.spec, test, rationale[:MAX_EVIDENCE])

    def _propose(
        self,
        executed: ToolExecuted,
        record: VersionRecord,
        fix: _Fix,
        called: LLMCalled,
        attempt: int,
        limits: Limits,
        out: list[Event],
    ) -> str | None:
        """Propose and verify the fix; None when registered, else why it was rejected."""
        tool = executed.tool
        version_before = self.ports.key_version(tool)
        registry = self.ports.registry()
        repair = RepairProposed.following(
            executed,
            event_id=self.event_id(executed, "repair", str(attempt)),
            tool=tool,
            from_version=executed.version,
            code=fix.code,
            test=fix.test,
            rationale=fix.rationale,
            details={"model": called.model, "tokens": called.total_tokens, "attempt": attempt},
            producer=PRODUCER,
        )
        proposal = ToolProposed.following(
            repair,
            event_id=self.event_id(executed, "proposed", str(attempt)),
            tool=tool,
            version=next_version(registry, tool),
            spec=fix.spec,
            code=fix.code,
            tests=record["tests"].rstrip() + "\n\n\n" + fix.test,
            origin="repair",
            producer=PRODUCER,
        )
        try:
            stored = self.ports.record([repair, proposal], expected_versions={tool: version_before})
        except ConcurrencyConflict as exc:
            raise _GiveUp(f"the tool changed meanwhile ({exc})") from exc
        out += stored
        proposed = stored[-1]
        assert isinstance(proposed, ToolProposed)
        outcome = self.ports.record(verify(proposed, self.ports.sandbox, limits))
        out += outcome
        registered = [e for e in outcome if isinstance(e, ToolRegistered)]
        if not registered:
            reason = getattr(outcome[-1], "reason", "rejected")
            report = getattr(outcome[-1], "report", None)
            return f"{reason}\n{report.output[-1500:] if report else ''}".strip()
        out += self.ports.record(
            [
                ToolRepaired.following(
                    registered[0],
                    event_id=self.event_id(executed, "repaired"),
                    tool=tool,
                    from_version=executed.version,
                    to_version=proposed.version,
                    producer=PRODUCER,
                )
            ]
        )
        return None

    # -- rollback or deprecation ---------------------------------------------------------------

    def _fall_back(self, executed: ToolExecuted, evidence: str) -> list[Event]:
        """Roll back or deprecate per ``plan_fallback``, if the version is still active."""
        tool = executed.tool
        version_before = self.ports.key_version(tool)
        registry = self.ports.registry()
        known = registry["tools"].get(tool)
        if known is None or known["active"] != executed.version:
            return []
        plan = plan_fallback(
            registry,
            tool,
            executed.version,
            min_executions=int(self._policy("repair.min_executions")),
            deprecate_failure_rate=self._policy("repair.deprecate_failure_rate"),
        )
        if plan is None:
            return []
        common: dict[str, Any] = {
            "tool": tool,
            "reason": f"{plan.reason}; last failure: {evidence}"[:MAX_EVIDENCE],
            "producer": PRODUCER,
            "event_id": self.event_id(executed, plan.action),
        }
        event: Event
        if plan.to_version is not None:
            event = ToolRolledBack.following(
                executed, from_version=executed.version, to_version=plan.to_version, **common
            )
        else:
            event = ToolDeprecated.following(executed, version=executed.version, **common)
        try:
            return self.ports.record([event], expected_versions={tool: version_before})
        except ConcurrencyConflict:
            return []  # another reaction changed the tool first: look again next failure

    # -- reading state -----------------------------------------------------------------------

    def _current(self, executed: ToolExecuted) -> tuple[VersionRecord | None, bool]:
        """The failing version's record, and whether it is still the active one."""
        tool = self.ports.registry()["tools"].get(executed.tool)
        if tool is None:
            return None, False
        return tool["versions"].get(str(executed.version)), tool["active"] == executed.version

    def _policy(self, name: str) -> float:
        value = self.ports.policies()[name]
        assert isinstance(value, int | float)
        return value


def _signature(parameters: Any) -> tuple[list[str], list[str]]:
    """A parameters schema's names and required names (what a repair must keep)."""
    schema = parameters if isinstance(parameters, dict) else {}
    return sorted(schema.get("properties") or {}), sorted(schema.get("required") or [])
