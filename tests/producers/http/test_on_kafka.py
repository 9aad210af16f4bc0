"""The HTTP API on a Kafka log: tokens, an answer, and the stream's per-partition positions
(``Last-Event-ID`` resumes after them)."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from selfeng.app import Selfeng
from selfeng.core.settings import Settings
from selfeng.producers.http.app import create_app
from selfeng.producers.http.service import Service
from selfeng.producers.http.tokens import create_token
from tests.producers.http.conftest import ThreadServer
from tests.producers.http.test_routes_events import frames

pytestmark = pytest.mark.kafka


def test_ask_and_stream_on_kafka(
    kafka_bootstrap: str, kafka_namespace: str, tmp_path: Path
) -> None:
    settings = Settings.resolve(
        home=tmp_path / "home",
        log=f"kafka://{kafka_bootstrap}?namespace={kafka_namespace}&partitions=2",
        env={},
    )
    service = Service(Selfeng.open(settings))
    _, admin = create_token(service.app.log, "admin", "ops")
    with ThreadServer(create_app(service)) as url:
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=60)
        with http:
            answer = http.post(
                "/v1/requests", params={"wait": 30}, json={"prompt": "What is 25% of 100?"}
            ).json()
            assert answer["answer"] == "25"
            params = {"from": "start", "key": answer["request_id"]}
            with http.stream("GET", "/v1/events/stream", params=params) as response:
                assert response.status_code == 200
                got = []
                for message in frames(response):
                    got.append(message)
                    if message["event"] == "RequestCompleted":
                        break
            assert got[0]["event"] == "RequestReceived"
            assert "selfeng.requests:" in got[0]["id"]
            resume = {"Last-Event-ID": got[0]["id"]}
            with http.stream("GET", "/v1/events/stream", params=params, headers=resume) as again:
                second = next(frames(again))
            assert orjson.loads(second["data"])["type"] == got[1]["event"]
