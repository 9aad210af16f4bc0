"""The request handler and the learners as agents of the faust app (``selfeng faust worker
--serve``).

The faust app of :mod:`selfeng.infra.faust.app` folds the projections; with ``--serve`` the
same app also answers requests and runs the learners, each as an agent:

``answer``
    reads the topics that hold ``RequestReceived`` and ``ToolProposed`` and handles each
    record as ``selfeng worker`` does (``Worker.handle_record``): it answers a request, or
    verifies a proposed tool, in a thread (the handler and the sandbox block), retries a
    failing record and dead-letters it after the last try.
``learn-NAME``
    one agent per learner, reading the topics of the event types it reacts to.

The agents are members of the app's consumer group, so faust splits each topic's partitions
between the workers of one app id and moves them on a rebalance. Processing is at least
once (the app's setting): a record handled but not yet committed when a worker dies is
handled again by the next owner. So a request is always treated as possibly answered
before: the handler asks the log whether the request's key holds more than the request and
then does not answer it again; a learner's events have ids derived from their cause, which
the log and its readers keep once.

This module wires the runtime into the faust adapter (it imports both), as ``app`` wires the
embedded one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

from selfeng.app import Selfeng
from selfeng.consumers.learner import Learner
from selfeng.consumers.worker import LEARNER_GROUP, TYPES, Worker
from selfeng.core.settings import Settings
from selfeng.infra.faust.app import FaustFold, as_record
from selfeng.schemas import EVENT_TYPES

ANSWER_GROUP = "selfeng.worker"
"""The group named on the dead letters of the ``answer`` agent (as ``selfeng worker``'s)."""


def topics_of(types: Collection[str]) -> list[str]:
    """The logical topics that hold events of ``types``."""
    return sorted({EVENT_TYPES[t].topic() for t in types if t in EVENT_TYPES})


def add_service_agents(
    fold: FaustFold, host: Selfeng, *, requests: bool = True, learners: bool = True
) -> Worker:
    """Add the ``answer`` agent and one ``learn-NAME`` agent per learner to ``fold``'s app;
    the returned worker counts what they handled."""
    worker = Worker(host, requests=requests, learners=learners)
    if requests:
        _agent(fold, "answer", TYPES, worker, None)
    if learners:
        for learner in host.learners:
            _agent(fold, f"learn-{learner.name}", learner.reacts_to, worker, learner)
    return worker


def _agent(
    fold: FaustFold,
    name: str,
    types: Collection[str],
    worker: Worker,
    learner: Learner | None,
) -> None:
    names = fold.names
    topic = fold.app.topic(
        *[names.topics.physical(t) for t in topics_of(types)],
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    group = ANSWER_GROUP if learner is None else LEARNER_GROUP.format(name=learner.name)
    wanted = frozenset(types)

    async def handle(stream: Any) -> None:
        async for event in stream.events():
            _, record = as_record(names, event.message)
            if record.type not in wanted:
                continue
            await asyncio.to_thread(
                worker.handle_record, record, learner=learner, group=group, maybe_handled=True
            )

    fold.app.agent(topic, name=name)(handle)


def serving(
    settings: Settings, *, requests: bool = True, learners: bool = True
) -> Callable[[FaustFold], Selfeng]:
    """What ``run_worker(serve=...)`` takes: opens the runtime of ``settings`` (whose log is
    the worker's Kafka log), seeds the starter library in a fresh home when it answers
    requests (as ``selfeng worker`` does) and adds the agents."""

    def serve(fold: FaustFold) -> Selfeng:
        host = Selfeng.open(settings)
        if requests and host.seeding_unfinished():
            host.seed_tools()
        add_service_agents(fold, host, requests=requests, learners=learners)
        return host

    return serve
