"""Damaged files and bad bytes: one clear line, never a traceback; derived state rebuilds."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from selfeng.cli import main


def run(home: Path, *args: str) -> Result:
    env = {"SELFENG_SANDBOX": "subprocess://", "SELFENG_LOG": "", "SELFENG_STORE": ""}
    return CliRunner().invoke(main, ["--home", str(home), *args], env=env)


def damage(path: Path, at: int = 4096) -> None:
    with path.open("r+b") as fh:
        fh.seek(at)
        fh.write(b"\xde\xad" * 2048)


def test_a_damaged_projection_store_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    assert run(tmp_path, "ask", "What is 2 + 2?").exit_code == 0
    damage(tmp_path / "projections.db")
    again = run(tmp_path, "ask", "What is 3 + 3?")
    assert again.exit_code == 0, again.output
    assert "rebuilt from the log" in again.output
    assert again.output.strip().endswith("6")
    assert list(tmp_path.glob("projections.db.unreadable-*"))  # kept, not deleted


def test_a_store_file_that_is_not_sqlite_is_left_alone_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    assert run(tmp_path, "ask", "What is 2 + 2?").exit_code == 0
    (tmp_path / "projections.db").write_bytes(b"not a database at all")
    refused = run(tmp_path, "ask", "What is 3 + 3?")
    assert refused.exit_code == 1
    assert "move it away and selfeng rebuilds the projections" in refused.output
    assert (tmp_path / "projections.db").read_bytes() == b"not a database at all"
    (tmp_path / "projections.db").unlink()
    again = run(tmp_path, "ask", "What is 3 + 3?")
    assert again.output.strip().endswith("6")


def test_a_damaged_log_is_refused_in_one_line(tmp_path: Path) -> None:
    assert run(tmp_path, "ask", "What is 2 + 2?").exit_code == 0
    damage(tmp_path / "log.db", at=8192)
    refused = run(tmp_path, "ask", "What is 5 + 5?")
    assert refused.exit_code == 1
    assert "damaged" in refused.output
    assert "Traceback" not in refused.output


def test_a_log_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "log.db").mkdir()
    refused = run(tmp_path, "ask", "What is 2 + 2?")
    assert refused.exit_code == 1
    assert "Is a directory" in refused.output


def test_a_tool_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    tool = tmp_path / "bad.py"
    tool.write_bytes(b'def f(x: str) -> str:\n    """\xff\xfe"""\n    return x\n')
    refused = run(tmp_path / "home", "tools", "add", str(tool))
    assert refused.exit_code == 1
    assert "not UTF-8" in refused.output


def test_a_prompt_with_bytes_that_are_not_utf8_is_answered(tmp_path: Path) -> None:
    answered = run(tmp_path, "ask", "what is \udcff 2 + 2")
    assert answered.exit_code == 0, answered.output
    assert answered.output.strip() == "4"
