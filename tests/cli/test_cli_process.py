"""The installed program, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

SELFENG = str(Path(sys.executable).with_name("selfeng"))


def env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SELFENG_")}
    return {**clean, "SELFENG_HOME": str(home), "COLUMNS": "200"}


def test_the_demo_runs_start_to_finish(tmp_path: Path) -> None:
    result = subprocess.run(
        [SELFENG, "demo"],
        env=env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tools proposed, tested in the sandbox and registered" in out
    assert "> Reverse the string hello\nolleh" in out
    assert "> Calculate 25% of 100 and reverse the result\n52" in out
    assert "the repeat was answered from the cache: True" in out
    assert "ToolSynthesisRequested" in out
    assert "registry:" in out
    assert "CompositeRegistered percent_of_then_reverse_string v1" in out
    assert "tools: percent_of_then_reverse_string@1" in out
    assert "ToolRolledBack" in out
    assert "sracecar  (" in out  # answered by v1 after the rollback
    assert "DIFFERENT" not in out
    assert result.stderr.strip() == ""
    assert not (tmp_path / "log.db").exists()  # the demo keeps to a temporary home


def test_tail_follow_prints_events_as_they_arrive(tmp_path: Path) -> None:
    tail = subprocess.Popen(
        [SELFENG, "tail", "--follow", "--json"],
        env=env(tmp_path),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        for i in range(3):
            message = orjson.dumps({"type": "RequestReceived", "prompt": f"q{i}"})
            subprocess.run(
                [sys.executable, "-m", "selfeng", "publish", "-"],
                input=message,
                env=env(tmp_path),
                check=True,
                capture_output=True,
                timeout=60,
            )
        assert tail.stdout is not None
        prompts = [orjson.loads(tail.stdout.readline())["prompt"] for _ in range(3)]
    finally:
        tail.terminate()
        tail.wait(10)
    assert prompts == ["q0", "q1", "q2"]
