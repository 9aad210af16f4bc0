"""Realistic events for the faust tests (no broker, no faust)."""

from __future__ import annotations

from selfeng.schemas import (
    Event,
    PolicyChanged,
    RequestCompleted,
    RequestReceived,
    ToolExecuted,
    ToolSearched,
    uuid7,
)
from selfeng.schemas.requests import Candidate, Step

TOOLS = (("percent", {"percent": 25, "of": 100}, 25.0), ("reverse", {"text": "25.0"}, "0.52"))


def request_events(requests: int) -> list[Event]:
    """Events shaped like the request path (as ``bench/common.py`` makes them), about six
    per request id; requests share a few sessions (rows keyed by session id, fed by keys
    of every partition), one in seven fails, and a policy changes every 100 requests."""
    events: list[Event] = []
    for n in range(requests):
        received = RequestReceived(
            key=str(uuid7()),
            prompt=f"Calculate 25% of {100 + n % 13} and reverse the result",
            session_id=f"s{n % 5}",
        )
        ok = n % 7 != 0
        steps = tuple(
            Step(query=received.prompt, tool=tool, version=1, ok=ok, arguments=arguments)
            for tool, arguments, _ in TOOLS
        )
        events.append(received)
        events.append(
            ToolSearched.following(
                received,
                query=received.prompt,
                threshold=0.4,
                candidates=(Candidate(tool="percent", version=1, score=0.91, similarity=0.88),),
            )
        )
        for tool, arguments, result in TOOLS:
            events.append(
                ToolExecuted.following(
                    received,
                    tool=tool,
                    version=1,
                    arguments=arguments,
                    ok=ok,
                    result=result if ok else None,
                    duration_ms=1.0 + n % 3,
                    sandbox="subprocess",
                )
            )
        events.append(
            RequestCompleted.following(
                received,
                ok=ok,
                answer="0.52" if ok else "",
                value="0.52" if ok else None,
                tools=("percent@1", "reverse@1"),
                steps=steps,
                session_id=received.session_id,
                duration_ms=4.2,
            )
        )
        if n % 100 == 0:
            events.append(PolicyChanged(name="cache.ttl_seconds", value=3600 + n % 7))
    return events
