"""The verifier: a proposed tool version is registered only if its tests pass in the sandbox.

Reacts to ToolProposed with ToolVerified and ToolRegistered, or with ToolRejected carrying
the test report. The same path serves tools a person adds (``selfeng tools add``), the
starter library, and, later, tools the synthesizer writes.
"""

from __future__ import annotations

import uuid

from selfeng.core.sandbox import Limits, Sandbox, SandboxUnavailable
from selfeng.schemas import (
    Event,
    TestReport,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolVerified,
)
from selfeng.schemas.ids import derived_uuid7

MAX_REPORT = 4000
"""Characters of test output kept in an event."""


def verify(proposed: ToolProposed, sandbox: Sandbox, limits: Limits | None = None) -> list[Event]:
    """Run the proposal's tests; return the events that record the outcome.

    Their ids derive from the proposal's, so verifying it twice (in process and in a worker,
    or a worker restarted) stores the outcome once.
    """
    ms = int(proposed.occurred_at.timestamp() * 1000)

    def event_id(what: str) -> uuid.UUID:
        return derived_uuid7(ms, str(proposed.event_id), what)

    try:
        run = sandbox.run_tests(proposed.code, proposed.tests, limits)
    except SandboxUnavailable as exc:
        return [
            ToolRejected.following(
                proposed,
                event_id=event_id("rejected"),
                tool=proposed.tool,
                version=proposed.version,
                reason=f"the sandbox could not run the tests: {exc}",
            )
        ]
    report = TestReport(
        passed=run.passed,
        failed=run.failed,
        output=run.output[-MAX_REPORT:],
        duration_ms=run.duration_ms,
        sandbox=run.sandbox,
    )
    if not run.ok:
        if run.passed + run.failed == 0:
            reason = "no test ran"
        else:
            names = ", ".join(sorted(run.failures)) or "the run"
            reason = f"{run.failed} of {run.passed + run.failed} tests failed ({names})"
        return [
            ToolRejected.following(
                proposed,
                event_id=event_id("rejected"),
                tool=proposed.tool,
                version=proposed.version,
                reason=reason,
                report=report,
            )
        ]
    verified = ToolVerified.following(
        proposed,
        event_id=event_id("verified"),
        tool=proposed.tool,
        version=proposed.version,
        report=report,
    )
    registered = ToolRegistered.following(
        verified, event_id=event_id("registered"), tool=proposed.tool, version=proposed.version
    )
    return [verified, registered]
