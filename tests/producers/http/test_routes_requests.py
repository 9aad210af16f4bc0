"""Asking, reading a request, rating it: over HTTP against the real app on a SQLite log."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from selfeng.app import Selfeng
from selfeng.consumers.worker import Worker
from selfeng.core.settings import Settings
from selfeng.producers.http.app import create_app
from tests.producers.http.conftest import LiveServer, ThreadServer, open_service


def test_ask_and_wait_returns_the_answer(live: LiveServer) -> None:
    with live.http(live.client) as http:
        response = http.post(
            "/v1/requests",
            params={"wait": 10, "events": True},
            json={"prompt": "What is 25% of 100?"},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "answered"
    assert body["ok"] is True
    assert body["answer"] == "25"
    assert body["tools"] == ["percent_of@1"]
    types = [e["type"] for e in body["events"]]
    assert types[0] == "RequestReceived"
    assert "RequestCompleted" in types
    received = body["events"][0]
    assert received["client"] == f"http:{live.client_id}"


def test_ask_names_a_policy_arm(live: LiveServer) -> None:
    with live.http(live.client) as http:
        response = http.post(
            "/v1/requests",
            params={"wait": 10},
            json={"prompt": "What is 30% of 100?", "arm": "no-such-fork"},
        )
    body = response.json()
    assert body["ok"] is True
    assert body["arm"] is None  # main answered an arm that names no live fork, and says so
    assert "no-such-fork" in body["arm_note"]


def test_ask_without_wait_is_202_then_readable(live: LiveServer) -> None:
    with live.http(live.client) as http:
        response = http.post("/v1/requests", json={"prompt": "Reverse the string 'abc'"})
        assert response.status_code == 202
        request_id = response.json()["request_id"]
        deadline = time.monotonic() + 10
        while True:
            got = http.get(f"/v1/requests/{request_id}")
            assert got.status_code == 200
            if got.json()["status"] == "answered" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    body = got.json()
    assert body["answer"] == "cba"
    assert [e["type"] for e in body["events"]][-1] == "RequestCompleted"


def test_a_client_reads_only_its_own_requests(live: LiveServer) -> None:
    with live.http(live.client) as http:
        request_id = http.post(
            "/v1/requests", params={"wait": 10}, json={"prompt": "What is 10% of 50?"}
        ).json()["request_id"]
    with live.http(live.other_client) as other:
        assert other.get(f"/v1/requests/{request_id}").status_code == 404
        denied = other.post(f"/v1/requests/{request_id}/feedback", json={"rating": "bad"})
        assert denied.status_code == 404
    with live.http(live.admin) as admin:
        assert admin.get(f"/v1/requests/{request_id}").status_code == 200


def test_feedback_says_what_changed(live: LiveServer) -> None:
    with live.http(live.client) as http:
        request_id = http.post(
            "/v1/requests", params={"wait": 10}, json={"prompt": "What is 30% of 200?"}
        ).json()["request_id"]
        response = http.post(
            f"/v1/requests/{request_id}/feedback", json={"rating": "bad", "comment": "wrong"}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["applied"] is True
    assert body["changed"]
    kinds = [r.type for r in live.app.log.stream(request_id)]
    assert "FeedbackGiven" in kinds
    assert "FeedbackApplied" in kinds


def test_sessions_carry_a_follow_up(live: LiveServer) -> None:
    with live.http(live.client) as http:
        first = http.post(
            "/v1/requests",
            params={"wait": 10},
            json={"prompt": "What is 25% of 100?", "session_id": "s1"},
        ).json()
        follow = http.post(
            "/v1/requests",
            params={"wait": 10},
            json={"prompt": "Now reverse the result", "session_id": "s1"},
        ).json()
    assert first["ok"]
    assert follow["ok"], follow
    assert follow["session_id"] == "s1"


def test_bad_bodies_are_clear_4xx(live: LiveServer) -> None:
    with live.http(live.client) as http:
        cases = [
            http.post("/v1/requests", json={"prompt": ""}),
            http.post("/v1/requests", json={"prompt": 3}),
            http.post("/v1/requests", json={"prompt": "x", "extra": 1}),
            http.post(
                "/v1/requests", content=b"{not json", headers={"content-type": "application/json"}
            ),
            http.post("/v1/requests", params={"wait": -1}, json={"prompt": "x"}),
            http.post("/v1/requests/some-id/feedback", json={"rating": "meh"}),
        ]
        for response in cases:
            assert response.status_code == 422, response.text
            body = response.json()
            assert body["error"] == "unprocessable_entity"
            assert body["message"]
        missing = http.get("/v1/requests/no-such-request")
        assert missing.status_code == 404
        assert "no request" in missing.json()["message"]
        assert http.post("/v1/requests/nope/feedback", json={"rating": "good"}).status_code == 404


def test_a_body_over_the_limit_is_413(live: LiveServer) -> None:
    big = {"prompt": "x" * (live.service.max_body + 10)}
    with live.http(live.client) as http:
        declared = http.post("/v1/requests", json=big)
        assert declared.status_code == 413
        assert declared.json()["error"] == "request_entity_too_large"

        def chunks() -> object:
            for _ in range(20):
                yield b"x" * 8192

        streamed = http.post("/v1/requests", content=chunks())  # type: ignore[arg-type]
        assert streamed.status_code == 413


def test_a_publishing_server_waits_for_a_worker_s_answer(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Selfeng.open(Settings.resolve(home=home, env={})) as worker_app:
        worker_app.seed_tools()
        stop = threading.Event()
        worker = threading.Thread(target=Worker(worker_app, learners=False).run, args=(stop,))
        worker.start()
        try:
            service = open_service(home, worker=True)
            with ThreadServer(create_app(service, insecure_localhost=True)) as url:
                response = httpx.post(
                    f"{url}/v1/requests",
                    params={"wait": 20},
                    json={"prompt": "What is 25% of 100?"},
                )
        finally:
            stop.set()
            worker.join(timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["answer"] == "25"
        received = worker_app.log.stream(response.json()["request_id"])[0]
        assert b'"answered_inline":false' in received.data
