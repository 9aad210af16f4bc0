"""Tools, projections, policies, forks, experiments, learning views, stats and health."""

from __future__ import annotations

import uuid

from selfeng.consumers.judge import opening
from selfeng.core.mapper import append_events
from selfeng.schemas import ExperimentConcluded
from tests.producers.http.conftest import LiveServer

TOOL = '''
def shout_text(text: str) -> str:
    """Shout the text: the text in upper case with an exclamation mark."""
    return text.upper() + "!"


def test_shout_text() -> None:
    assert shout_text("hi") == "HI!"
'''


def test_health_and_openapi(live: LiveServer) -> None:
    with live.http() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready"
        assert ready["log"].startswith("sqlite:///")
        spec = http.get("/openapi.json").json()
        assert "/v1/requests" in spec["paths"]
        assert "/v1/events/stream" in spec["paths"]
        assert http.get("/docs").status_code == 200


def test_tools_are_ranked_with_success_rates(live: LiveServer) -> None:
    with live.http(live.client) as http:
        http.post("/v1/requests", params={"wait": 10}, json={"prompt": "What is 25% of 100?"})
        tools = http.get("/v1/tools").json()["tools"]
        assert tools[0]["tool"] == "percent_of"
        assert tools[0]["success_rate"] == 1.0
        assert {"runs", "cache_hits", "smoothed_success_rate", "mean_ms"} <= set(tools[0])
        one = http.get("/v1/tools/percent_of").json()
        assert one["active"] == 1
        assert one["versions"]["1"]["status"] == "registered"
        assert one["stats"]["1"]["executions"] >= 1
        assert one["history"]
        assert http.get("/v1/tools/no_such_tool").status_code == 404


def test_an_admin_adds_a_tool_proven_in_the_sandbox(live: LiveServer) -> None:
    with live.http(live.admin) as http:
        added = http.post("/v1/tools", json={"source": TOOL})
        assert added.status_code == 201, added.text
        assert added.json() == {"tool": "shout_text", "version": 1, "registered": True}
        broken = TOOL.replace('"HI!"', '"NO"')
        rejected = http.post("/v1/tools", json={"source": broken})
        assert rejected.status_code == 422
        assert "rejected" in rejected.json()["message"]
        assert http.post("/v1/tools", json={"source": "x = 1"}).status_code == 422


def test_projections_now_in_the_past_and_in_a_fork(live: LiveServer) -> None:
    fork = f"f-{uuid.uuid4().hex[:8]}"
    with live.http(live.admin) as http:
        names = http.get("/v1/projections").json()["projections"]
        assert "registry" in names
        assert http.get("/v1/projections/events").json()["total"] > 0
        early = http.get("/v1/projections/events", params={"at": 3}).json()
        assert early["total"] == 3
        created = http.post(
            "/v1/forks", json={"name": fork, "policies": {"retrieval.threshold": 0.5}}
        )
        assert created.status_code == 201, created.text
        policies = http.get("/v1/projections/policies", params={"fork": fork}).json()
        assert policies["policies"]["retrieval.threshold"]["value"] == 0.5
        assert fork in {f["fork"] for f in http.get("/v1/forks").json()["forks"]}
        assert http.post("/v1/forks", json={"name": fork}).status_code == 409
        assert http.post("/v1/forks", json={"name": "../x"}).status_code == 422
        assert http.delete(f"/v1/forks/{fork}").json() == {"dropped": fork}
        assert http.delete(f"/v1/forks/{fork}").status_code == 404
        assert http.get("/v1/projections/nope").status_code == 404
        assert http.get("/v1/projections/events", params={"at": "x=y"}).status_code == 422
        assert http.get("/v1/projections/events", params={"fork": "nope"}).status_code == 404


def test_policies_are_read_set_and_rolled_back(live: LiveServer) -> None:
    with live.http(live.admin) as http:
        before = http.get("/v1/policies/cache.ttl_seconds").json()
        changed = http.put("/v1/policies/cache.ttl_seconds", json={"value": 60, "reason": "t"})
        assert changed.status_code == 200
        assert changed.json()["value"] == 60
        refused = http.put("/v1/policies/cache.ttl_seconds", json={"value": -1})
        assert refused.status_code == 422
        assert "cache.ttl_seconds" in refused.json()["message"]
        typo = http.put("/v1/policies/retrieval.treshold", json={"value": 0.3})
        assert typo.status_code == 422
        back = http.post(
            "/v1/policies/cache.ttl_seconds/rollback", json={"version": before["version"]}
        )
        assert back.json()["value"] == before["value"]
        missing = http.post("/v1/policies/cache.ttl_seconds/rollback", json={"version": 999})
        assert missing.status_code == 404
        assert http.get("/v1/policies/no.such").status_code == 404
    with live.http(live.client) as http:
        assert "retrieval.threshold" in http.get("/v1/policies").json()


def test_experiments_show_arms_outcomes_and_verdict(live: LiveServer) -> None:
    name = f"exp-{uuid.uuid4().hex[:6]}"
    events = opening(
        name, {"control": {}, "lenient": {"retrieval.threshold": 0.3}}, "control",
        {"control": 0.5, "lenient": 0.5},
    )  # fmt: skip
    append_events(live.app.log, events)
    with live.http(live.client) as http:
        experiment = http.get("/v1/experiments").json()["experiments"][name]
    assert experiment["status"] == "running"
    assert set(experiment["arms"]) == {"control", "lenient"}
    assert experiment["arms"]["lenient"]["policies"] == {"retrieval.threshold": 0.3}
    assert experiment["arms"]["control"]["requests"] == 0  # outcomes per arm
    append_events(live.app.log, [ExperimentConcluded(experiment=name, winner="lenient")])
    with live.http(live.client) as http:
        experiment = http.get("/v1/experiments").json()["experiments"][name]
    assert experiment["concluded"]["winner"] == "lenient"


def test_learning_views_and_stats(live: LiveServer) -> None:
    with live.http(live.client) as http:
        for _ in range(2):
            http.post("/v1/requests", params={"wait": 10}, json={"prompt": "What is 20% of 80?"})
        learning = http.get("/v1/learning").json()
        assert {"patterns", "composites", "repairs", "rollbacks", "llm", "policy"} <= set(learning)
        assert set(http.get("/v1/learning/patterns").json()) == {"policy", "patterns"}
        assert http.get("/v1/learning/composites").json() == {"composites": learning["composites"]}
        assert "rollbacks" in http.get("/v1/learning/repairs").json()
        assert http.get("/v1/learning/llm").json() == {"models": learning["llm"]}
        graph = http.get("/v1/skill-graph").json()
        assert "percent_of" in graph["tools"]
        stats = http.get("/v1/stats").json()
        assert stats["requests"] >= 2
        assert stats["cache_hits"] >= 1
        assert 0 < stats["cache_hit_rate"] <= 1
        assert stats["minutes"][-1]["RequestReceived"] >= 2
        assert http.get("/v1/stats", params={"minutes": 0}).status_code == 422
