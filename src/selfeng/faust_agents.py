"""The request handler and the learners as agents of a faust app (``selfeng faust serve``).

A faust app of its own, beside the folding app of :mod:`selfeng.infra.faust.app` (app id
``{namespace}.selfeng-faust-serve``, also its consumer group), with one agent per consumer:

``answer``
    reads the topics that hold ``RequestReceived`` and ``ToolProposed`` and handles each
    record as ``selfeng worker`` does (``Worker.handle_record``): it answers a request, or
    verifies a proposed tool, in a thread (the handler and the sandbox block), retries a
    failing record and dead-letters it after the last try.
``learn-NAME``
    one agent per learner, reading the topics of the event types it reacts to.

The app has no tables, so a worker that starts (or takes partitions over) has nothing to
restore before it answers: a separate app from the fold's, whose tables a worker restores
from their changelogs before any of its agents runs. Faust splits each topic's partitions
between the workers of the app and moves them on a rebalance.

Processing is at least once (the app's setting): a record handled but not yet committed
when a worker dies is handled again by the next owner. So a request is always treated as
possibly answered before: the handler asks the log whether the request's key holds more
than the request and then does not answer it again; a learner's events have ids derived
from their cause, which the log and its readers keep once.

This module wires the runtime into the faust adapter (it imports both), as ``app`` wires the
embedded one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import faust

from selfeng.app import Selfeng
from selfeng.consumers.learner import Learner
from selfeng.consumers.worker import LEARNER_GROUP, TYPES, Worker
from selfeng.core.settings import Settings
from selfeng.infra.faust.app import as_record, faust_settings, run_app
from selfeng.infra.faust.names import FaustNames
from selfeng.schemas import TOPIC_OF_TYPE

ANSWER_GROUP = "selfeng.worker"
"""The group named on the dead letters of the ``answer`` agent (as ``selfeng worker``'s)."""
APP_NAME = "selfeng-faust-serve"
"""The app id (and consumer group), namespaced like the log's topics."""


def topics_of(types: Collection[str]) -> list[str]:
    """The logical topics that hold events of ``types``."""
    return sorted({TOPIC_OF_TYPE[t] for t in types if t in TOPIC_OF_TYPE})


def build_service(
    url: str, host: Selfeng, *, requests: bool = True, learners: bool = True
) -> tuple[faust.App, Worker]:
    """The faust app answering the requests of the log at ``url`` with ``host`` and running
    its learners; the worker counts what its agents handled."""
    names = FaustNames.from_url(url)
    app_id = names.topics.group(APP_NAME)
    datadir = host.settings.home / "faust" / app_id  # this worker's home, not the cwd
    app = faust.App(app_id, **faust_settings(names, app_id, datadir))
    worker = Worker(host, requests=requests, learners=learners)
    if requests:
        _agent(app, names, "answer", TYPES, worker, None)
    if learners:
        for learner in host.learners:
            _agent(app, names, f"learn-{learner.name}", learner.reacts_to, worker, learner)
    return app, worker


def _agent(
    app: faust.App,
    names: FaustNames,
    name: str,
    types: Collection[str],
    worker: Worker,
    learner: Learner | None,
) -> None:
    topic = app.topic(
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

    app.agent(topic, name=name)(handle)


def run_service(
    settings: Settings,
    *,
    requests: bool = True,
    learners: bool = True,
    loglevel: str = "warning",
) -> None:
    """Run the service app on the Kafka log of ``settings`` until it is stopped, with the
    runtime of ``settings`` (its home keeps the worker's embedded projections, as
    ``selfeng worker``'s does); a fresh home seeds the starter library first when it answers
    requests. Never returns: faust's worker exits the process when it stops."""
    host = Selfeng.open(settings)
    if requests and host.seeding_unfinished():
        host.seed_tools()
    app, _ = build_service(settings.log_url, host, requests=requests, learners=learners)
    run_app(app, loglevel=loglevel, closing=host)
