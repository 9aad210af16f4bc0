"""Requests answered by a worker consuming the log: a real process on SQLite, a thread on Kafka."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from selfeng.agent import Agent, NoAnswer
from selfeng.app import Selfeng
from selfeng.consumers.worker import Worker
from selfeng.core.settings import Settings
from selfeng.core.tooldef import parse_tool
from selfeng.projections.registry import active_tools
from selfeng.schemas import ToolProposed

SELFENG = str(Path(sys.executable).with_name("selfeng"))


def env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SELFENG_")}
    return {**clean, "SELFENG_HOME": str(home), "SELFENG_SANDBOX": "subprocess://"}


@pytest.fixture
def worker_process(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    subprocess.run(
        [SELFENG, "tools", "seed"], env=env(home), check=True, capture_output=True, timeout=300
    )
    worker = subprocess.Popen([SELFENG, "worker"], env=env(home), stderr=subprocess.PIPE)
    try:
        yield home
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(30)


def ask_worker(home: Path, prompt: str) -> str:
    """``selfeng ask --worker`` in its own process: the answer a worker gave."""
    done = subprocess.run(
        [SELFENG, "ask", "--worker", "--json", prompt],
        env=env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return str(orjson.loads(done.stdout)["answer"])


def test_a_worker_process_answers_what_a_client_publishes(worker_process: Path) -> None:
    for prompt, answer in [("What is 25% of 100?", "25"), ("Reverse the string hello", "olleh")]:
        assert ask_worker(worker_process, prompt) == answer


def test_sigterm_drains_and_exits_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    worker = subprocess.Popen([SELFENG, "worker"], env=env(home), stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        assert "worker on" in worker.stderr.readline()
        assert ask_worker(home, "What is 2 + 2?") == "4"  # the worker seeded the fresh home
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        assert "SIGTERM" in worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def test_asking_with_no_worker_says_so(tmp_path: Path) -> None:
    with Selfeng.open(Settings.resolve(home=tmp_path, env={})) as app:
        agent = Agent(app, worker=True)
        with pytest.raises(NoAnswer, match="is `selfeng worker` running"):
            agent.ask("What is 25% of 100?", timeout=0.5)


REVERSE = parse_tool(
    "def shout(text: str) -> str:\n    '''Shout a text (upper case, with an exclamation).'''\n"
    "    return text.upper() + '!'\n\n\ndef test_shout() -> None:\n    assert shout('a') == 'A!'\n"
)


@pytest.mark.kafka
def test_a_worker_on_kafka_verifies_tools_and_answers(kafka_bootstrap: str) -> None:
    from tests.kafka_broker import unique_namespace

    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}&session_timeout_ms=6000"
    settings = Settings.resolve(log=url, store="memory://", sandbox="subprocess://", env={})
    worker_app = Selfeng.open(settings)
    client_app = Selfeng.open(settings)
    stop = threading.Event()
    thread = threading.Thread(target=Worker(worker_app).run, args=(stop,))
    thread.start()
    try:
        # a client proposes a tool; the worker runs its tests and registers it
        client_app.append(
            [
                ToolProposed(
                    tool="shout",
                    version=1,
                    spec=REVERSE.spec,
                    code=REVERSE.code,
                    tests=REVERSE.tests,
                )
            ]
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "shout" not in active_tools(client_app.registry()):
            time.sleep(0.2)
        assert "shout" in active_tools(client_app.registry())
        answer = Agent(client_app, worker=True).ask("shout hello", timeout=60)
        assert answer.ok, answer.text
        assert answer.text == "HELLO!"
        assert answer.tools == ("shout@1",)
    finally:
        stop.set()
        thread.join(30)
        worker_app.close()
        client_app.close()
