"""Counterfactual evaluation: past requests answered again under candidate policy values.

Before an experiment goes live, ``selfeng experiment simulate --policy K=V`` takes the last
requests of the log and answers each again with the request handler under the live
policies with the candidate values pinned, and compares with what was recorded: nothing is
appended. Deterministic tools' results come from the execution cache where they still
apply; other runs go to the sandbox (so the cache hit rate is not estimated: a replay finds
what the recorded answers cached). The LLM is not called (a request the LLM planned is
counted as abstained on by the candidate, when the offline decision does not answer it).

Correctness is read from the ratings people gave: an answer equal to the recorded one
inherits its rating; a different answer to a request whose recorded answer was rated good
counts as wrong; an abstention on a request whose answer was rated bad counts as no longer
wrong; any other new answer is counted as right but reported as unverified.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from pydantic import JsonValue

from selfeng.consumers.executing import HandlerState
from selfeng.consumers.request_handler import RequestHandler
from selfeng.core.log import EventLog
from selfeng.core.mapper import DecodeError, from_record
from selfeng.schemas import Event, FeedbackGiven, RequestCompleted, RequestReceived

_TYPES = frozenset({"RequestReceived", "RequestCompleted", "FeedbackGiven"})


@dataclass
class PastRequest:
    """A request as recorded: what was asked, the last answer given and its last rating."""

    received: RequestReceived
    completed: RequestCompleted
    rating: str | None = None


def decoded_events(log: EventLog, types: frozenset[str]) -> Iterator[Event]:
    """The log's decodable events of ``types``, in log order (a bad record is skipped: the
    live fold dead-letters it)."""
    for batch in log.read(types=types):
        for record in batch.records:
            try:
                yield from_record(record)
            except DecodeError:
                continue


def past_requests(log: EventLog, last: int) -> list[PastRequest]:
    """The last ``last`` completed requests of the log (oldest first), with their ratings."""
    received: dict[str, RequestReceived] = {}
    done: OrderedDict[str, PastRequest] = OrderedDict()
    for event in decoded_events(log, _TYPES):
        match event:
            case RequestReceived():
                received[event.key] = event
            case RequestCompleted(awaiting_tool=False) if event.key in received:
                done[event.key] = PastRequest(received[event.key], event)
                done.move_to_end(event.key)
                while len(done) > last:
                    oldest, _ = done.popitem(last=False)
                    received.pop(oldest, None)
            case FeedbackGiven(rating=rating) if event.key in done:
                done[event.key].rating = rating
    return list(done.values())


@dataclass
class Tally:
    """Counts over the requests replayed, for one side (recorded or candidate)."""

    requests: int = 0
    answered: int = 0
    wrong: int = 0
    unverified: int = 0

    def rates(self) -> dict[str, float]:
        """The experiment metrics this estimates."""
        n = max(1, self.requests)
        return {
            "success_rate": round((self.answered - self.wrong) / n, 6),
            "wrong_rate": round(self.wrong / n, 6),
            "abstention_rate": round((self.requests - self.answered) / n, 6),
        }


@dataclass
class Simulation:
    """What the candidate policies would have done to the requests replayed."""

    policies: dict[str, JsonValue]
    recorded: Tally
    candidate: Tally
    changed: list[dict[str, JsonValue]]
    """Requests whose answer would differ: id, prompt, recorded and candidate answers."""

    def estimate(self) -> dict[str, dict[str, float]]:
        """Each metric: recorded, candidate and the change."""
        before, after = self.recorded.rates(), self.candidate.rates()
        return {
            name: {
                "recorded": before[name],
                "candidate": after[name],
                "change": round(after[name] - before[name], 6),
            }
            for name in before
        }


def simulate(
    handler: RequestHandler,
    state: HandlerState,
    policies: Mapping[str, JsonValue],
    past: list[PastRequest],
) -> Simulation:
    """Answer ``past`` again with ``handler`` under ``state`` with ``policies`` pinned."""
    candidate_state = replace(state, policies={**state.policies, **policies})
    recorded, candidate = Tally(), Tally()
    changed: list[dict[str, JsonValue]] = []
    for item in past:
        was = item.completed
        recorded.requests += 1
        recorded.answered += was.ok
        recorded.wrong += was.ok and item.rating == "bad"
        events = handler.handle(item.received, candidate_state, attempt="counterfactual")
        now = next(e for e in reversed(events) if isinstance(e, RequestCompleted))
        candidate.requests += 1
        candidate.answered += now.ok
        same = now.ok == was.ok and (not now.ok or now.value == was.value)
        if same:
            candidate.wrong += now.ok and item.rating == "bad"
            continue
        if now.ok and was.ok and item.rating == "good":
            candidate.wrong += 1
        elif now.ok:
            candidate.unverified += 1
        changed.append(
            {
                "request_id": was.key,
                "prompt": item.received.prompt[:200],
                "recorded": was.answer[:200] if was.ok else None,
                "candidate": now.answer[:200] if now.ok else None,
                "rating": item.rating,
            }
        )
    return Simulation(dict(policies), recorded, candidate, changed)
