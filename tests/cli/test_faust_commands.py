"""``selfeng faust ...``, invoked directly with the context ``selfeng`` gives its commands."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from selfeng.cli import Context
from selfeng.cli.faust_commands import faust_group
from selfeng.core.settings import Settings


def test_the_faust_commands_need_a_kafka_log(tmp_path: Path) -> None:
    context = Context(Settings.resolve(home=tmp_path, env={}))
    for args in (["worker"], ["state"]):
        result = CliRunner().invoke(faust_group, args, obj=context)
        assert result.exit_code == 1
        assert "faust workers run on a Kafka log: give --log kafka://" in result.output


def test_the_serving_options_are_checked_before_anything_starts(tmp_path: Path) -> None:
    context = Context(Settings.resolve(home=tmp_path, env={}))
    result = CliRunner().invoke(faust_group, ["serve"], obj=context)
    assert result.exit_code == 1
    assert "faust workers run on a Kafka log: give --log kafka://" in result.output
    context = Context(Settings.resolve(home=tmp_path, log="kafka://127.0.0.1:1", env={}))
    args = ["serve", "--no-learners", "--learners-only"]
    result = CliRunner().invoke(faust_group, args, obj=context)
    assert result.exit_code == 2
    assert "leave nothing to run" in result.output
