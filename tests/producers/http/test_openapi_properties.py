"""Property tests generated from the OpenAPI document by schemathesis: whatever body, query
or path hypothesis makes of each operation's schema (valid or not), the server answers with
no 5xx, with a JSON body for every error, and with a status and body its document declares.

They run on a server of their own: generated policy values and forks would change what the
other tests' server answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from selfeng.app import Selfeng  # noqa: E402
from selfeng.infra.log.memory import MemoryLog  # noqa: E402
from selfeng.infra.store.memory import MemoryStore  # noqa: E402
from selfeng.producers.http.app import create_app  # noqa: E402
from selfeng.producers.http.service import Service  # noqa: E402
from selfeng.producers.http.tokens import create_token  # noqa: E402
from tests.producers.http.conftest import ThreadServer, open_service  # noqa: E402


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server of its own and an admin token for it."""
    service = open_service(Path(tmp_path_factory.mktemp("fuzz")) / "home", max_body=16 * 1024)
    _, admin = create_token(service.app.log, "admin", "fuzz")
    with ThreadServer(create_app(service)) as url:
        yield url, admin


def _operations() -> list[Any]:
    """Every operation of the app's OpenAPI document (built over an in-memory log)."""
    app = create_app(Service(Selfeng(MemoryLog(), MemoryStore())))
    schema = schemathesis.openapi.from_dict(app.openapi())
    return [result.ok() for result in schema.get_all_operations()]


SKIPPED = {"GET /v1/events/stream", "POST /v1/tools"}
"""An endless stream; and tool source, which only the sandbox judges (slow, tested apart)."""
OPERATIONS = [op for op in _operations() if op.label not in SKIPPED]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_input_crashes_the_server(operation: Any, fuzzed: tuple[str, str]) -> None:
    url, admin = fuzzed
    headers = {"Authorization": f"Bearer {admin}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def call(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("error"), str)
            assert isinstance(body.get("message"), str)

    call()
