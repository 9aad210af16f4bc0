"""Publishing events over HTTP, and the Server-Sent Events stream: filters, resuming with
Last-Event-ID, and a slow reader that loses nothing while its buffer stays bounded."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Generator

import httpx
import orjson

from selfeng.core.mapper import append_events, from_record
from selfeng.producers.http import sse
from selfeng.schemas import DeadLetter, Event, PolicyChanged, RequestReceived
from tests.producers.http.conftest import LiveServer


def frames(response: httpx.Response) -> Generator[dict[str, str]]:
    """The SSE messages of a streamed response (comments and retry lines left out)."""
    message: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in message:
                yield message
            message = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            message[field] = value


def test_publish_appends_valid_events_and_dead_letters_the_rest(live: LiveServer) -> None:
    marker = uuid.uuid4().hex
    good = {"type": "RequestReceived", "prompt": f"hello {marker}", "client": "x"}
    with live.http(live.admin) as http:
        one = http.post("/v1/events", json=good)
        assert one.status_code == 200
        assert one.json()["accepted"][0]["type"] == "RequestReceived"
        mixed = http.post(
            "/v1/events",
            json=[
                good | {"prompt": "second"},
                {"type": "Mystery", "key": "k"},
                {"type": "RequestReceived"},
            ],
        )
        assert mixed.status_code == 422
        body = mixed.json()
        assert len(body["accepted"]) == 1
        assert [d["error"] for d in body["dead_letters"]] == ["unknown_type", "validation"]
        lines = b'{"type": "RequestReceived", "prompt": "a"}\n{"trunc\n'
        ndjson = http.post(
            "/v1/events", content=lines, headers={"content-type": "application/x-ndjson"}
        )
        assert ndjson.status_code == 422
        assert [d["error"] for d in ndjson.json()["dead_letters"]] == ["invalid_json"]
        assert http.post("/v1/events", content=b"").status_code == 422
    letters = [from_record(r) for b in live.app.log.read(types={"DeadLetter"}) for r in b.records]
    assert any(isinstance(d, DeadLetter) and d.raw == b'{"trunc' for d in letters)


def test_the_stream_filters_and_resumes_with_last_event_id(live: LiveServer) -> None:
    key = f"stream-{uuid.uuid4().hex}"
    start = str(live.app.log.head())
    append_events(
        live.app.log,
        [RequestReceived(key=key, prompt=f"p{i}") for i in range(3)]
        + [PolicyChanged(name="team.mode", value=i) for i in range(2)],
    )
    with live.http(live.admin) as http:
        params = {"from": start, "type": "RequestReceived", "key": key}
        with http.stream("GET", "/v1/events/stream", params=params) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            got = []
            for message in frames(response):
                got.append(message)
                if len(got) == 2:
                    break
        assert [orjson.loads(m["data"])["prompt"] for m in got] == ["p0", "p1"]
        assert {m["event"] for m in got} == {"RequestReceived"}
        resume = {"Last-Event-ID": got[1]["id"]}
        with http.stream("GET", "/v1/events/stream", params=params, headers=resume) as response:
            rest = next(frames(response))
        assert orjson.loads(rest["data"])["prompt"] == "p2"
        assert int(rest["id"]) > int(got[1]["id"])


def test_the_stream_delivers_live_events(live: LiveServer) -> None:
    key = f"live-{uuid.uuid4().hex}"
    with (
        live.http(live.admin) as http,
        http.stream(
            "GET", "/v1/events/stream", params={"key": key, "topic": "selfeng.requests"}
        ) as response,
    ):
        timer = threading.Timer(
            0.3, lambda: append_events(live.app.log, [RequestReceived(key=key, prompt="now")])
        )
        timer.start()
        messages = frames(response)  # kept: a dropped generator closes the connection
        message = next(messages)
        timer.join()
        assert live.service.hub.subscribers >= 1
        messages.close()
    assert orjson.loads(message["data"])["key"] == key
    deadline = time.monotonic() + 5
    while live.service.hub.subscribers and time.monotonic() < deadline:
        time.sleep(0.02)  # a closed stream leaves the hub
    assert live.service.hub.subscribers == 0


def test_a_slow_reader_loses_nothing_and_its_buffer_stays_bounded(live: LiveServer) -> None:
    key = f"slow-{uuid.uuid4().hex}"
    total = sse.QUEUE_SIZE * 3
    seen: list[int] = []
    peak = lags = 0
    with (
        live.http(live.admin) as http,
        http.stream("GET", "/v1/events/stream", params={"key": key}) as response,
    ):
        for start in range(0, total, 500):
            # large events, so the socket's buffers fill and the server's writes wait on us
            padding = " " + "x" * 4000
            events: list[Event] = [
                RequestReceived(key=key, prompt=f"{i}{padding}") for i in range(start, start + 500)
            ]
            append_events(live.app.log, events)
        messages = frames(response)
        for message in messages:
            seen.append(int(orjson.loads(message["data"])["prompt"].split()[0]))
            if len(seen) % 500 == 0:
                # a slow reader: the hub runs ahead of it (waited for, not a fixed sleep: on a
                # loaded machine the hub thread may take a while to get there)
                deadline = time.monotonic() + (5.0 if lags == 0 else 0.2)
                while time.monotonic() < deadline:
                    time.sleep(0.05)
                    if lags == 0 and any(s.lags for s in list(live.service.hub._subscribers)):
                        break
                subscribers = list(live.service.hub._subscribers)
                peak = max(peak, *(len(s.buffer) for s in subscribers))
                lags = max(lags, *(s.lags for s in subscribers))
            if len(seen) == total:
                break
    assert seen == list(range(total))
    assert peak <= sse.QUEUE_SIZE
    assert lags >= 1  # it did fall behind, and caught up from the log


def test_bad_stream_parameters_are_422(live: LiveServer) -> None:
    with live.http(live.admin) as http:
        assert http.get("/v1/events/stream", params={"type": "Nope"}).status_code == 422
        assert http.get("/v1/events/stream", params={"topic": "nope"}).status_code == 422
        bad = http.get("/v1/events/stream", params={"from": "x=y"})
        assert bad.status_code == 422
        assert "position" in bad.json()["message"]
