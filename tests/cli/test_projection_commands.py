"""Policy and fork commands: what they accept and refuse."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from selfeng.cli import main
from tests.cli.test_cli import home, publish, run

__all__ = ["home"]


def test_a_value_starting_with_a_dash_is_a_value(home: Path) -> None:
    assert "team.offset = -1 (version 1)" in run(home, "policy", "set", "team.offset", "-1").output
    out = run(home, "policy", "set", "team.offset", "-2.5", "--reason", "lower").output
    assert "team.offset = -2.5 (version 2)" in out
    assert (
        "team.offset = -3 (version 3)"
        in run(home, "policy", "set", "team.offset", "--", "-3").output
    )
    bad = CliRunner().invoke(
        main, ["--home", str(home), "policy", "set", "cache.ttl_seconds", "-5"]
    )
    assert bad.exit_code == 2
    assert "greater than 0" in bad.output


def test_unknown_policies_and_incomplete_weights_are_refused(home: Path) -> None:
    for args in (
        ("policy", "set", "retrieval.treshold", "0.2"),
        ("policy", "set", "retrieval.weights", '{"similarity": 0.7, "success_rate": 0.2}'),
        ("fork", "create", "x", "--policy", "nosuch=1"),
        ("fork", "create", "x", "--policy", "retrieval.nosuch=1"),
        ("fork", "create", "x", "--policy", "retrieval.rerank=3"),
    ):
        result = CliRunner().invoke(main, ["--home", str(home), *args])
        assert result.exit_code == 2, args
    ok = run(
        home,
        "policy",
        "set",
        "retrieval.weights",
        '{"similarity": 0.6, "success_rate": 0.3, "frequency": 0.1}',
    )
    assert "version 2" in ok.output


def test_a_published_fork_with_invalid_values_pins_only_the_valid_ones(home: Path) -> None:
    result = publish(
        home,
        {
            "type": "ForkCreated",
            "fork": "odd",
            "policies": {"retrieval.threshold": 9, "cache.ttl_seconds": 60},
        },
        {"type": "PolicyChanged", "name": "retrieval.top_k", "value": "many"},
    )
    assert result.exit_code == 0
    [fork] = orjson.loads(run(home, "fork", "list", "--json").output)
    assert fork["policies"] == {"cache.ttl_seconds": 60}
    state = orjson.loads(run(home, "state", "policies").output)
    assert "not accepted" in state["forks"]["odd"]["rejected"]["retrieval.threshold"]
    assert state["policies"]["retrieval.top_k"]["value"] == 5
