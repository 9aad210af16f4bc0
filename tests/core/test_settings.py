from pathlib import Path

from selfeng.core.settings import Settings


def test_defaults_live_in_the_home() -> None:
    s = Settings.resolve(env={"HOME": "/h"})
    assert s.home == Path("~/.selfeng").expanduser()
    assert s.log_url == f"sqlite:///{s.home / 'log.db'}"
    assert s.store_url == f"sqlite:///{s.home / 'projections.db'}"


def test_environment_then_flags_override() -> None:
    env = {"SELFENG_HOME": "/srv/se", "SELFENG_LOG": "kafka://k:9092"}
    s = Settings.resolve(env=env)
    assert s.home == Path("/srv/se")
    assert s.log_url == "kafka://k:9092"
    assert s.store_url == "sqlite:////srv/se/projections.db"
    s = Settings.resolve(home="/x", log="memory://", store="memory://", env=env)
    assert (s.home, s.log_url, s.store_url) == (Path("/x"), "memory://", "memory://")
