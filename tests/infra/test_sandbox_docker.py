"""``docker://``: its error handling and container options against a fake client at the SDK
boundary, the whole call path through a fake engine that runs the worker locally, and the
contract against a real engine when one answers (none does here: those tests skip)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from selfeng.core.backends import open_sandbox
from selfeng.core.sandbox import Limits, Sandbox, SandboxUnavailable
from selfeng.infra.sandbox import docker as sandbox_docker
from selfeng.infra.sandbox.docker import DockerChannel, DockerSandbox, connect
from selfeng.infra.sandbox.subprocess import real_python
from tests.contract.sandbox_contract import IDENTITY, SandboxContract, tool


def _engine_answers() -> bool:
    try:
        docker.from_env().ping()
    except Exception:
        return False
    return True


ENGINE = _engine_answers()


# -- a fake engine at the SDK boundary -----------------------------------------------------


def frame(stream: int, payload: bytes) -> bytes:
    """One frame of Docker's multiplexed attach stream."""
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


class FakeContainer:
    """Runs the container's command as a local process behind a socketpair, framed."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.id = os.urandom(8).hex()
        self.removed = False
        self.process: subprocess.Popen[bytes] | None = None
        self._engine_side, self._client_side = socket.socketpair()
        self._workdir = tempfile.TemporaryDirectory()

    def attach_socket(self, params: dict[str, int]) -> socket.socket:
        assert params == {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        return self._client_side

    def start(self) -> None:
        command = list(self.options["command"])
        assert command[0] == "python3"
        config = json.loads(command[-1])
        config["workdir"] = self._workdir.name  # the fake has no tmpfs at /work
        command[0], command[-1] = real_python(), json.dumps(config)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        threading.Thread(target=self._pump_in, daemon=True).start()
        for stream, pipe in ((1, self.process.stdout), (2, self.process.stderr)):
            threading.Thread(target=self._pump_out, args=(stream, pipe), daemon=True).start()

    def _pump_in(self) -> None:
        assert self.process is not None
        assert self.process.stdin is not None
        while data := self._engine_side.recv(65536):
            try:
                self.process.stdin.write(data)
                self.process.stdin.flush()
            except BrokenPipeError:
                return  # the container was killed (as an engine's attach stream ends)

    def _pump_out(self, stream: int, pipe: Any) -> None:
        while data := os.read(pipe.fileno(), 3000):  # small reads: frames split lines
            try:
                self._engine_side.sendall(frame(stream, data))
            except OSError:
                return
        if stream == 1:  # the engine ends the attach stream when the container exits
            self._engine_side.shutdown(socket.SHUT_RDWR)

    def die(self) -> None:
        """The container's process dies (OOM kill, engine restart...)."""
        assert self.process is not None
        self.process.kill()

    def remove(self, force: bool = False) -> None:
        self.removed = True
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._workdir.cleanup()


class FakeClient:
    """Enough of ``docker.DockerClient`` for the sandbox."""

    def __init__(self, images: tuple[str, ...] = ("python:3.11-slim",)) -> None:
        self.known = set(images)
        self.created: list[FakeContainer] = []
        self.pulled: list[str] = []
        self.fail_create: Exception | None = None
        self.images = self
        self.containers = self

    def get(self, name: str) -> object:  # images.get
        if name not in self.known:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return object()

    def pull(self, name: str) -> object:  # images.pull
        self.pulled.append(name)
        self.known.add(name)
        return object()

    def create(self, **options: Any) -> FakeContainer:  # containers.create
        if self.fail_create is not None:
            raise self.fail_create
        container = FakeContainer(options)
        self.created.append(container)
        return container


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def fake(client: FakeClient) -> Iterator[DockerSandbox]:
    with DockerSandbox(workers=1, client_factory=lambda: client) as sandbox:
        yield sandbox


# -- errors ----------------------------------------------------------------------------------


def test_no_engine_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise docker.errors.DockerException("Error while fetching server API version")

    monkeypatch.setattr(docker, "from_env", refuse)
    with pytest.raises(SandboxUnavailable, match="no Docker engine answers here"):
        DockerSandbox()


@pytest.mark.skipif(ENGINE, reason="a Docker engine answers here")
def test_this_machine_has_no_engine() -> None:
    with pytest.raises(SandboxUnavailable, match="no Docker engine answers here"):
        connect()
    with pytest.raises(SandboxUnavailable, match="no Docker engine answers here"):
        open_sandbox("docker://")


def test_a_missing_image_is_unavailable_unless_pulled() -> None:
    client = FakeClient(images=())
    with pytest.raises(SandboxUnavailable, match=r"docker pull python:3\.11-slim"):
        DockerSandbox(client_factory=lambda: client)
    with DockerSandbox(workers=0, pull=True, client_factory=lambda: client):
        assert client.pulled == ["python:3.11-slim"]


def test_an_engine_that_refuses_the_container_is_unavailable(client: FakeClient) -> None:
    client.fail_create = docker.errors.APIError("500 Server Error: no space left")
    with pytest.raises(SandboxUnavailable, match="refused a worker: 500 Server Error"):
        DockerSandbox(client_factory=lambda: client)
    client.fail_create = docker.errors.ImageNotFound("gone since we looked")
    with pytest.raises(SandboxUnavailable, match="not found"):
        DockerSandbox(client_factory=lambda: client)


# -- the container it asks for ---------------------------------------------------------------


def test_the_container_is_locked_down(client: FakeClient) -> None:
    with DockerSandbox(
        workers=1, memory_mb=300, cpus=0.5, pids=40, client_factory=lambda: client
    ) as sandbox:
        options = client.created[0].options
        assert "docker: image python:3.11-slim" in sandbox.describe()
    assert options["network_mode"] == "none"
    assert options["network_disabled"] is True
    assert options["mem_limit"] == options["memswap_limit"] == "300m"
    assert options["nano_cpus"] == 500_000_000
    assert options["pids_limit"] == 40
    assert options["read_only"] is True
    assert options["tmpfs"] == {"/work": "rw,nosuid,nodev,size=64m,mode=1777"}
    assert options["working_dir"] == "/work"
    assert options["user"] == "65534:65534"
    assert options["cap_drop"] == ["ALL"]
    assert options["security_opt"] == ["no-new-privileges"]
    assert options["stdin_open"] is True
    assert options["tty"] is False
    assert options["command"][:5] == ["python3", "-I", "-S", "-c", options["command"][4]]
    assert set(options["environment"]) == {"HOME", "TMPDIR", "LANG", "MALLOC_ARENA_MAX"}
    assert client.created[0].removed


def test_the_url_sets_the_options(monkeypatch: pytest.MonkeyPatch, client: FakeClient) -> None:
    monkeypatch.setattr(sandbox_docker, "connect", lambda: client)
    kwdefaults = DockerSandbox.__init__.__kwdefaults__
    assert kwdefaults is not None
    monkeypatch.setattr(
        DockerSandbox.__init__, "__kwdefaults__", {**kwdefaults, "client_factory": lambda: client}
    )
    with open_sandbox("docker://?workers=0&image=python:3.11-slim&memory_mb=128&pids=8") as sb:
        assert isinstance(sb, DockerSandbox)
        assert (sb.memory_mb, sb.pids, sb.warm) == (128, 8, False)


# -- calls through the fake engine -------------------------------------------------------------


def test_calls_run_through_the_attach_socket(fake: DockerSandbox) -> None:
    result = fake.run(tool("print('hi')\nreturn x * 2", "x"), "f", {"x": 21})
    assert (result.ok, result.value, result.output, result.sandbox) == (True, 42, "hi\n", "docker")
    run = fake.run_tests(
        "def add(a, b):\n    return a + b\n", "def test_a():\n    assert add(1, 1) == 2\n"
    )
    assert (run.passed, run.failed) == (1, 0)
    looping = fake.run(tool("while True:\n    pass"), "f", {}, Limits(timeout_s=0.5))
    assert looping.error_kind == "timeout"
    assert fake.run(IDENTITY, "f", {"x": "still here"}).value == "still here"
    [worker] = fake.workers()
    assert worker.label.startswith("container ")
    assert worker.calls == 4


def test_a_dead_container_is_replaced(fake: DockerSandbox, client: FakeClient) -> None:
    assert fake.run(IDENTITY, "f", {"x": 1}).ok
    client.created[0].die()
    outcomes = [fake.run(IDENTITY, "f", {"x": i}) for i in range(3)]
    assert outcomes[-1].value == 2
    assert not outcomes[0].ok or outcomes[0].value == 0
    assert client.created[0].removed
    assert len(client.created) == 2


def test_frames_split_anywhere_are_reassembled() -> None:
    ours, theirs = socket.socketpair()
    channel = DockerChannel(container=None, sock=theirs)
    stream = frame(2, b"warning\n") + frame(1, b'{"hello": 1,') + frame(1, b' "worker": "w"}\nrest')
    for i in range(0, len(stream), 5):
        ours.sendall(stream[i : i + 5])
    ours.close()
    assert channel.receive_line(time.monotonic() + 5) == b'{"hello": 1, "worker": "w"}'
    assert channel.diagnostics() == "warning"
    channel.kill()


# -- a real engine, when one answers ----------------------------------------------------------


@pytest.mark.skipif(not ENGINE, reason="no Docker engine answers here")
class TestDockerSandbox(SandboxContract):
    blocks_tmp_writes = True  # read-only root

    @classmethod
    def create_sandbox(cls, *, guard: bool = True, workers: int = 2) -> Sandbox:
        return DockerSandbox(workers=workers, guard=guard, pull=True)
