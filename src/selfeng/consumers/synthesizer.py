"""The tool synthesizer: writes a missing tool through the LLM, proves it, answers with it.

It reacts to ToolSynthesisRequested. Without an LLM it does nothing (the request stays
pending; ``selfeng synth pending`` lists it). With one, it first asks what a correct tool
must answer to the request, before any code is written (``LLMCalled``, purpose
``acceptance``; see ``selfeng.consumers.fitting``), then makes up to
``cost.max_synthesis_attempts`` attempts, each within the request's LLM cost limits: the
prompt is built from the log only (the request, the need, two similar registered tools as
examples, the names taken, and on a retry the previous file and why it failed, from the
stored proposal and its ToolRejected report); the answer's ```python block is read as a
tool file, proposed (ToolProposed, origin ``llm``) and run in the sandbox. A tool whose tests
pass is registered only if it fits the request (the evidence check, and the acceptance
answer when one could be stated); otherwise it is rejected with the reason (ToolVerified,
then ToolRejected) and the next attempt is told why. Unsafe code is the sandbox's to stop,
not this module's.

A registered tool answers the original request at once: the synthesizer asks its ports to
answer the request again, pinned to the tool for the step that needed it, and the runtime's
request handler answers (the synthesizer never runs the handler itself). When the attempts
or the budget run out, or the model fails, the request gets an honest answer saying what was
tried and how a person can add the tool.

Every event's id derives from the ToolSynthesisRequested, and recorded LLM calls are reused,
so a second reaction stores nothing twice and pays for no call twice.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from selfeng.consumers.deciding import Wordings
from selfeng.consumers.fitting import Acceptance, acceptance_prompt, misfit, read_acceptance
from selfeng.consumers.learner import BudgetExhausted, Learner, LLMCaller
from selfeng.consumers.ports import LearnerPorts
from selfeng.consumers.verifier import verify
from selfeng.core.log import ConcurrencyConflict
from selfeng.core.policies import policy_float, policy_int
from selfeng.core.sandbox import SandboxUnavailable
from selfeng.core.tooldef import ToolDefinition, ToolSourceError, parse_tool
from selfeng.core.values import shown
from selfeng.projections.registry import RegistryState, active_tools, next_version
from selfeng.schemas import (
    ChatMessage,
    Event,
    LLMCalled,
    RequestCompleted,
    RequestReceived,
    ResponseSynthesized,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolSynthesisRequested,
    ToolVerified,
)

logger = logging.getLogger(__name__)

PRODUCER = "selfeng.learner.synthesizer"
"""The producer of the synthesizer's events."""
MAX_EXAMPLES = 2
"""Registered tools shown to the model as examples."""
MAX_TAKEN = 100
"""Taken names listed in the prompt (the nearest to the need when there are more)."""
MAX_FEEDBACK = 1500
"""Characters of the previous attempt's test output fed back."""
MIN_TESTS = 2
"""Test functions a written tool must have."""

SYSTEM = """You write tools for a self-engineering agent. A tool is one Python module:

- exactly one public, fully typed function (the tool), named in lower_snake_case after what
  it does; helpers, if any, are private (_name);
- parameter and return types among int, float, str, bool, list[...], dict[str, ...],
  Literal[...] and X | None;
- a Google-style docstring: a first line saying what it does, then an Args: section with
  one line per parameter;
- at least two test_* functions that call the tool with plain assert statements;
- the standard library only; deterministic; no network, no processes, no files, no input.

Answer with the whole module in one ```python block and nothing else."""

_BLOCK = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)


class Synthesizer(Learner):
    """Writes, tests and registers a tool for a request that found none, then answers it."""

    name = "synthesizer"
    reacts_to = frozenset({"ToolSynthesisRequested"})

    def __init__(self, ports: LearnerPorts) -> None:
        super().__init__(ports)
        self._wordings = Wordings()  # the stems too common among the tools to show intent

    def react(self, event: Event) -> list[Event]:
        assert isinstance(event, ToolSynthesisRequested)
        llm = self.ports.llm
        if llm is None:
            return []
        history = request_events(self.ports, event.request_id)
        received = next((e for e in history if isinstance(e, RequestReceived)), None)
        if received is None:
            logger.warning("synthesis for %s: the request is not in the log", event.request_id)
            return []
        gave_up = self.event_id(event, "completed")
        if any(
            isinstance(e, RequestCompleted) and (e.ok or e.event_id == gave_up) for e in history
        ):
            return []  # answered already, or given up by an earlier reaction
        caller = LLMCaller(self.ports, llm, producer=PRODUCER)
        attempts = policy_int(self.ports.policies(), "cost.max_synthesis_attempts")
        out: list[Event] = []
        try:
            stated = caller.call(
                acceptance_prompt(received.prompt, event.need),
                subject=event.request_id,
                purpose="acceptance",
                attempt=1,
                cause=event,
                max_answer_tokens=300,
            )
        except BudgetExhausted as exc:
            return out + self._give_up(event, received, f"a cost limit stopped it: {exc}")
        out.append(stated)
        if not stated.ok:
            why = f"the LLM call failed: {_one_line(stated.error or '')}"
            return out + self._give_up(event, received, why)
        acceptance = read_acceptance(stated.response)
        prompt = self._prompt(received, event)
        feedback: list[ChatMessage] = []
        last = ""
        for n in range(1, attempts + 1):
            try:
                called = caller.call(
                    [*prompt, *feedback],
                    subject=event.request_id,
                    purpose="synthesis",
                    attempt=n,
                    cause=event,
                )
            except BudgetExhausted as exc:
                why = f"a cost limit stopped it after {_attempts(n - 1)}: {exc}"
                return out + self._give_up(event, received, why)
            out.append(called)
            if not called.ok:
                why = f"the LLM call failed (attempt {n}): {_one_line(called.error or '')}"
                return out + self._give_up(event, received, why)
            attempt = self._attempt(event, n, called, acceptance)
            out += attempt.events
            if attempt.registered is not None:
                return out + self._answer(event, received, attempt.registered)
            feedback = [ChatMessage(role="user", content=attempt.feedback(n))]
            last = attempt.problem
        why = f"{_attempts(attempts)} failed; the last: {_one_line(last)}"
        return out + self._give_up(event, received, why)

    # -- one attempt -------------------------------------------------------------------------

    def _attempt(
        self,
        event: ToolSynthesisRequested,
        n: int,
        called: LLMCalled,
        acceptance: Acceptance | None,
    ) -> _Attempt:
        """Read the answer as a tool file, propose it, run its tests and check that it fits
        the request."""
        source = python_block(called.response)
        proposal_id = self.event_id(event, "proposal", str(n))
        try:
            if source is None:
                raise ToolSourceError("the answer has no ```python block")
            tool = parse_tool(source)
            recorded, outcome = self._recorded(tool.name, proposal_id)
            if recorded is None:  # judged when first read, not against a later registry
                check_written(tool, self.ports.registry())
        except ToolSourceError as exc:
            return _Attempt([], None, f"the file could not be used: {exc}", source or "", "")
        proposed = recorded or self._propose(event, proposal_id, called, tool)
        outcome = outcome or self._verify(event, n, proposed, acceptance)
        events: list[Event] = [proposed, *outcome]
        if any(isinstance(e, ToolRegistered) for e in outcome):
            return _Attempt(events, proposed, "", "", "")
        rejected = next((e for e in outcome if isinstance(e, ToolRejected)), None)
        problem = rejected.reason if rejected is not None else "it was not registered"
        output = rejected.report.output if rejected is not None and rejected.report else ""
        return _Attempt(events, None, problem, f"{proposed.code}\n\n{proposed.tests}", output)

    def _propose(
        self,
        event: ToolSynthesisRequested,
        proposal_id: uuid.UUID,
        called: LLMCalled,
        tool: ToolDefinition,
    ) -> ToolProposed:
        """Append the proposal (the next version of its name); return it as stored."""
        for _ in range(3):
            expected = self.ports.key_version(tool.name)
            proposed = ToolProposed.following(
                event,
                event_id=proposal_id,
                causation_id=called.event_id,
                tool=tool.name,
                version=next_version(self.ports.registry(), tool.name),
                spec=tool.spec,
                code=tool.code,
                tests=tool.tests,
                origin="llm",
                producer=PRODUCER,
            )
            try:
                stored = self.ports.record([proposed], expected_versions={tool.name: expected})[0]
            except ConcurrencyConflict:
                continue  # another version of the name was proposed meanwhile
            assert isinstance(stored, ToolProposed)
            return stored
        raise ConcurrencyConflict(tool.name, expected, self.ports.key_version(tool.name))

    def _recorded(
        self, tool: str, proposal_id: uuid.UUID
    ) -> tuple[ToolProposed | None, list[Event]]:
        """The proposal an earlier reaction recorded for this attempt, and its verdict."""
        proposal: ToolProposed | None = None
        found: list[Event] = []
        for event in self.ports.history(tool):
            if isinstance(event, ToolProposed) and event.event_id == proposal_id:
                proposal = event
            elif isinstance(event, ToolVerified | ToolRejected | ToolRegistered) and (
                event.causation_id in {proposal_id, *(e.event_id for e in found)}
            ):
                found.append(event)  # its verdict, then ToolRegistered
        return proposal, found

    def _verify(
        self,
        event: ToolSynthesisRequested,
        n: int,
        proposed: ToolProposed,
        acceptance: Acceptance | None,
    ) -> list[Event]:
        """Its tests, then whether it fits the request: registered, or rejected with why."""
        try:
            outcome = verify(proposed, self.ports.sandbox)
            verified = next((e for e in outcome if isinstance(e, ToolVerified)), None)
            if verified is not None:
                problem = self._misfit(event, proposed, acceptance)
                if problem is not None:
                    outcome = [
                        verified,
                        ToolRejected.following(
                            verified,
                            event_id=self.event_id(event, "misfit", str(n)),
                            tool=proposed.tool,
                            version=proposed.version,
                            reason=f"it does not fit the request: {problem}",
                            report=verified.report,
                            producer=PRODUCER,
                        ),
                    ]
        except SandboxUnavailable as exc:
            outcome = [
                ToolRejected.following(
                    proposed,
                    event_id=self.event_id(event, "rejected", str(n)),
                    tool=proposed.tool,
                    version=proposed.version,
                    reason=f"the sandbox could not start: {exc}",
                    producer=PRODUCER,
                )
            ]
        return self.ports.record(outcome)

    def _misfit(
        self,
        event: ToolSynthesisRequested,
        proposed: ToolProposed,
        acceptance: Acceptance | None,
    ) -> str | None:
        state = self.ports.handler_state()
        self._wordings.refresh(state.registry)
        return misfit(
            proposed,
            event.need,
            acceptance,
            self.ports.sandbox,
            generic=self._wordings.generic,
            min_confidence=policy_float(state.policies, "answer.min_confidence"),
        )

    # -- the prompt, from the log ------------------------------------------------------------

    def _prompt(
        self, received: RequestReceived, event: ToolSynthesisRequested
    ) -> list[ChatMessage]:
        arm = received.policy_arm
        state = self.ports.handler_state(arm)
        active = {
            name: found
            for name, found in active_tools(state.registry).items()
            if not found[1]["spec"].get("composition")
        }

        def nearest(k: int) -> list[str]:
            return [name for name in self.ports.nearest_tools(event.need, k, arm) if name in active]

        examples = nearest(MAX_EXAMPLES)
        examples += [n for n in sorted(active) if n not in examples][: MAX_EXAMPLES - len(examples)]
        taken = sorted(active) if len(active) <= MAX_TAKEN else sorted(nearest(MAX_TAKEN))
        shown = "\n\n".join(
            f"Example: {name}\n```python\n{active[name][1]['code'].rstrip()}\n\n\n"
            f"{active[name][1]['tests'].rstrip()}\n```"
            for name in examples
        )
        user = (
            f"A user asked: “{received.prompt.strip()}”\n"
            f"No registered tool does this part of it: “{event.need}”.\n"
            "Write a new tool for it, general enough to be called with the values the request "
            "gives (its parameters are filled from the request's words).\n\n"
            f"{shown}\n\n"
            f"Names already taken (choose another): {', '.join(taken) or 'none'}."
        )
        return [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=user)]

    # -- endings -----------------------------------------------------------------------------

    def _answer(
        self, event: ToolSynthesisRequested, received: RequestReceived, proposed: ToolProposed
    ) -> list[Event]:
        """Answer the request again, with the new tool for the step that needed it (the
        runtime's handler answers; the events come back as appended)."""
        history = request_events(self.ports, event.request_id)
        return self.ports.answer_again(
            received,
            pinned=pins(history, event.need, proposed.tool),
            attempt=f"synthesis:{proposed.tool}@{proposed.version}",
        )

    def _give_up(
        self, event: ToolSynthesisRequested, received: RequestReceived, why: str
    ) -> list[Event]:
        """The honest answer: what was tried, and how a person can add the tool."""
        text = (
            f"I could not write a tool for “{shown(event.need)}”: {why}. A person can add one with "
            f"`selfeng tools add FILE.py --answer {event.request_id}`."
        )
        response = ResponseSynthesized.following(
            received,
            event_id=self.event_id(event, "response"),
            causation_id=event.event_id,
            text=text,
            producer=PRODUCER,
        )
        completed = RequestCompleted.following(
            received,
            event_id=self.event_id(event, "completed"),
            causation_id=event.event_id,
            ok=False,
            answer=text,
            duration_ms=round((response.occurred_at - received.occurred_at).total_seconds() * 1e3),
            producer=PRODUCER,
        )
        return self.ports.record([response, completed])


@dataclass
class _Attempt:
    events: list[Event]
    registered: ToolProposed | None
    problem: str
    source: str
    output: str

    def feedback(self, n: int) -> str:
        """What the next attempt is told about this one."""
        output = self.output.strip()[-MAX_FEEDBACK:]
        return (
            f"Attempt {n} did not work: {self.problem}.\n"
            + (f"The file was:\n```python\n{self.source.strip()}\n```\n" if self.source else "")
            + (f"The test output was:\n{output}\n" if output else "")
            + "Write the whole file again, fixed, in one ```python block."
        )


# -- helpers ----------------------------------------------------------------------------------


def python_block(text: str) -> str | None:
    """The first ```python block of an answer (else its first unlabelled block), or None."""
    blocks = _BLOCK.findall(text)
    for lang, body in blocks:
        if lang.lower() in {"python", "py", "python3"}:
            return str(body)
    return next((str(body) for lang, body in blocks if not lang), None)


def check_written(tool: ToolDefinition, registry: RegistryState) -> None:
    """Check a written tool for what the synthesizer asks beyond ``parse_tool``: a name not
    taken and enough tests. Raises ToolSourceError saying what to change."""
    if tool.name in active_tools(registry):
        raise ToolSourceError(f"{tool.name} is already a registered tool: choose another name")
    tests = len(re.findall(r"^def test_", tool.tests, re.MULTILINE))
    if tests < MIN_TESTS:
        raise ToolSourceError(f"it has {tests} test function(s); write at least {MIN_TESTS}")


def request_events(ports: LearnerPorts, request_id: str) -> list[Event]:
    """Every decodable event of a request's key, in order."""
    return ports.history(request_id)


def pins(history: Sequence[Event], need: str, tool: str) -> dict[str, str]:
    """The tools an answer again of a request is pinned to: ``tool`` for the step that
    needed it, and for the other steps the tools that worked in its last answer (a tool
    written for an earlier step of it may score below the threshold)."""
    last = next((e for e in reversed(history) if isinstance(e, RequestCompleted)), None)
    worked = {step.query: step.tool for step in last.steps if step.ok} if last else {}
    return {**worked, need: tool}


def answer_with(ports: LearnerPorts, request_id: str, tool: str) -> list[Event]:
    """Answer a request that asked for a tool with the registered ``tool`` (pinned to the
    step that needed it); return the events appended (the learners have not reacted yet:
    ``Selfeng.learn`` them for that).

    Raises LookupError when the request, its synthesis request or the tool is unknown.
    """
    history = request_events(ports, request_id)
    received = next((e for e in history if isinstance(e, RequestReceived)), None)
    if received is None:
        raise LookupError(f"no request {request_id!r} in the log")
    asked = [e for e in history if isinstance(e, ToolSynthesisRequested)]
    if not asked:
        raise LookupError(f"request {request_id} did not ask for a tool")
    active = active_tools(ports.registry())
    if tool not in active:
        raise LookupError(f"{tool!r} is not a registered tool; see `selfeng tools list`")
    version = active[tool][0]
    return ports.answer_again(
        received,
        pinned=pins(history, asked[-1].need, tool),
        attempt=f"answer:{tool}@{version}",
    )


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def _one_line(text: str) -> str:
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= 300 else line[:297] + "..."
