"""``selfeng faust ...`` (the group is not registered in ``selfeng.cli`` yet: invoked here
directly, with the context ``selfeng`` gives its commands)."""

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
        assert "a faust worker folds a Kafka log: give --log kafka://" in result.output
