"""What the HTTP app serves from: one open ``Selfeng``, how requests get answered, the token
store and the event hub.

Requests are answered in this process by default (like ``selfeng ask``): the request is
appended, then handled on one answering thread, so ``POST /v1/requests`` can return at once
with the request id. With ``worker=True`` the server only publishes requests and feedback,
and ``selfeng worker`` processes on the same log answer them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from anyio import to_thread

from selfeng.agent import Agent, FeedbackResult
from selfeng.app import Selfeng
from selfeng.core.closing import Closeable
from selfeng.core.mapper import DecodeError, from_record
from selfeng.producers.http.sse import EventHub
from selfeng.producers.http.tokens import TokenStore
from selfeng.schemas import Event, RequestCompleted, RequestReceived

POLL_SECONDS = 0.02
"""How often a wait for a worker's answer looks at the request's stream."""
MAX_PENDING = 256
"""Requests accepted but not yet answered in this process; beyond it new ones get 503."""


class Busy(RuntimeError):
    """Too many requests are waiting to be answered."""


@dataclass(frozen=True)
class RequestView:
    """A request as the log holds it: what was asked, by whom, and its answer if any."""

    received: RequestReceived
    """The request."""
    events: list[Event]
    """All its events, in order."""
    completed: RequestCompleted | None
    """Its final answer (not one that still awaits a tool), or None while pending."""


class Service(Closeable):
    """The runtime behind the HTTP routes."""

    def __init__(self, app: Selfeng, *, worker: bool = False, max_body: int = 1 << 20) -> None:
        """``worker``: leave answering to ``selfeng worker`` processes on the same log.
        ``max_body``: the largest request body accepted, in bytes."""
        self.app = app
        self.worker = worker
        self.max_body = max_body
        self.tokens = TokenStore(app.log)
        self.hub = EventHub(app.log)
        self._answering = ThreadPoolExecutor(max_workers=1, thread_name_prefix="selfeng-answer")
        self._pending: dict[str, Future[list[Event]]] = {}
        self._lock = threading.Lock()
        self._seeded = worker
        self._seed_lock = threading.Lock()

    def start(self) -> None:
        """Seed the starter library (when answering here) and start the event hub."""
        self._seed()
        self.hub.start()

    def _seed(self) -> None:
        if self._seeded:
            return
        with self._seed_lock:
            if not self._seeded:
                if self.app.seeding_unfinished():
                    self.app.seed_tools()
                self._seeded = True

    # -- requests ------------------------------------------------------------------------

    def submit(
        self, prompt: str, *, session_id: str | None, client: str, arm: str | None = None
    ) -> RequestReceived:
        """Append a request (with the policy arm it names, or the one a running experiment
        assigns it); in this process, queue it to be answered. Raises ``Busy``."""
        received = self.app.assigned(
            RequestReceived(
                prompt=prompt,
                session_id=session_id,
                client=client,
                answered_inline=not self.worker,
                policy_arm=arm,
            )
        )
        if self.worker:
            self.app.append([received])
            return received
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                raise Busy(f"{MAX_PENDING} requests are waiting to be answered; retry later")
            self.app.append([received])
            future = self._answering.submit(self._answer, received)
            self._pending[received.key] = future
        future.add_done_callback(lambda _f: self._forget(received.key))
        return received

    def _answer(self, received: RequestReceived) -> list[Event]:
        self._seed()
        return [received, *self.app.handle(received)]

    def _forget(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)

    async def wait(self, received: RequestReceived, timeout: float) -> RequestView | None:
        """Wait up to ``timeout`` seconds for the request's answer; None if it has none yet.

        No thread waits: an answer handled here is awaited as a future, one from a worker is
        looked for in the log every ``POLL_SECONDS``.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            future = self._pending.get(received.key)
        if future is not None:
            try:  # shielded: a timeout here must not cancel the answering
                events = await asyncio.wait_for(
                    asyncio.shield(asyncio.wrap_future(future)), timeout
                )
            except TimeoutError:
                return None
            answered = _view(received, events)
            if answered.completed is not None:
                return answered
        while True:
            view = await to_thread.run_sync(self.request, received.key)
            if view is not None and view.completed is not None:
                return view
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(remaining, POLL_SECONDS))

    def request(self, request_id: str) -> RequestView | None:
        """The request with this id as the log holds it, or None when there is none."""
        events: list[Event] = []
        for record in self.app.log.stream(request_id):
            try:
                events.append(from_record(record))
            except DecodeError:
                continue
        received = next((e for e in events if isinstance(e, RequestReceived)), None)
        if received is None:
            return None
        return _view(received, events)

    def feedback(
        self, request_id: str, rating: Literal["good", "bad"], comment: str, *, client: str
    ) -> FeedbackResult:
        """Rate an answer like ``Agent.feedback`` (applied here, or by a worker)."""
        return Agent(self.app, worker=self.worker, client=client).feedback(
            request_id, rating, comment
        )

    def close(self) -> None:
        """Stop the hub and the answering thread (after the requests it holds)."""
        self.hub.close()
        self._answering.shutdown(wait=True, cancel_futures=False)


def _view(received: RequestReceived, events: list[Event]) -> RequestView:
    completed = next(
        (
            e
            for e in reversed(events)
            if isinstance(e, RequestCompleted) and e.key == received.key and not e.awaiting_tool
        ),
        None,
    )
    if completed is None:  # an answer saying a tool is being written is still an answer
        completed = next(
            (e for e in reversed(events) if isinstance(e, RequestCompleted)),
            None,
        )
    return RequestView(received, [e for e in events if e.key == received.key], completed)
