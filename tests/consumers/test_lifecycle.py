"""A fresh home: the starter library is registered once, however many clients arrive at once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.backends import BackendError
from selfeng.core.mapper import from_record
from selfeng.core.settings import Settings
from selfeng.schemas import ToolRegistered
from selfeng.seed_tools import seed_sources


def test_concurrent_first_clients_register_each_starter_tool_once(tmp_path: Path) -> None:
    settings = Settings.resolve(home=tmp_path, sandbox="subprocess://", env={})
    with Selfeng.open(settings):
        pass  # the home exists before the clients race
    answers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def client() -> None:
        try:
            with Selfeng.open(settings) as app:
                start.wait()
                answers.append(Agent(app).ask("What is 2 + 2?").text)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    assert answers == ["4"] * 4
    with Selfeng.open(settings) as app:
        registered = Counter(
            event.tool
            for batch in app.log.read(types=["ToolRegistered"])
            for record in batch.records
            if isinstance(event := from_record(record), ToolRegistered)
        )
    assert set(registered) == set(seed_sources())
    assert set(registered.values()) == {1}


@pytest.mark.parametrize(
    ("sandbox", "embedder", "words"),
    [("bogus://", "lexical", "no sandbox backend"), ("subprocess://", "nope", "no embedder")],
)
def test_a_bad_sandbox_or_embedder_fails_before_anything_is_appended(
    tmp_path: Path, sandbox: str, embedder: str, words: str
) -> None:
    settings = Settings.resolve(home=tmp_path / "home", sandbox=sandbox, embedder=embedder, env={})
    with pytest.raises(BackendError, match=words):
        Selfeng.open(settings)
    assert not (tmp_path / "home").exists()
