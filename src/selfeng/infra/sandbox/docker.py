"""``docker://``: each worker is a container, through the ``docker`` SDK.

A worker container runs the same worker as the other backends (``python3 -I -S -c ...``,
with the image's Python) with no network (``network_mode="none"``), a memory limit with no
swap, a CPU quota, a process limit, a read-only root filesystem, one small writable tmpfs
(its working directory, ``/work``), every capability dropped, ``no-new-privileges``, and
the unprivileged user 65534. The pool talks to it over the attach socket (stdin in, stdout
out, in Docker's multiplexed frames). Each call is still a forked child with rlimits.

Every error of the engine (none answers, the image is missing, a refusal) becomes
``SandboxUnavailable`` with the reason; a container that dies mid-call is replaced.

Options: ``docker://?workers=1&image=python:3.11-slim&memory_mb=512&cpus=1&pids=64``
(also ``pull=true`` to pull a missing image, ``guard``, ``startup_timeout``).
"""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Callable
from typing import Any, Final

import docker
import docker.errors

from selfeng.core.sandbox import SandboxUnavailable
from selfeng.infra.sandbox.channel import Channel, WorkerGone
from selfeng.infra.sandbox.launch import launch_command
from selfeng.infra.sandbox.pool import PooledSandbox, parse_options

IMAGE: Final = "python:3.11-slim"
"""The default image: any image with ``python3`` (3.9 or newer) will do."""

WORKDIR: Final = "/work"
"""The container's one writable directory."""

USER: Final = "65534:65534"
"""Who runs the worker in the container (nobody)."""

_OPTIONS: Final = {
    "workers": int,
    "guard": bool,
    "image": str,
    "memory_mb": int,
    "cpus": float,
    "pids": int,
    "workdir_mb": int,
    "pull": bool,
    "startup_timeout": float,
}
_STDOUT = 1


def connect() -> Any:
    """A client for the engine ``DOCKER_HOST`` (or the default socket) names, or why not."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxUnavailable(f"no Docker engine answers here: {exc}") from exc
    except OSError as exc:  # requests' connection errors are OSErrors
        raise SandboxUnavailable(f"no Docker engine answers here: {exc}") from exc
    return client


class DockerSandbox(PooledSandbox):
    """Warm worker containers: no network, memory/CPU/pids limits, read-only root."""

    name = "docker"

    def __init__(
        self,
        *,
        workers: int = 1,
        guard: bool = True,
        image: str = IMAGE,
        memory_mb: int = 512,
        cpus: float = 1.0,
        pids: int = 64,
        workdir_mb: int = 64,
        pull: bool = False,
        startup_timeout: float = 60.0,
        client_factory: Callable[[], Any] = connect,
    ) -> None:
        self.image = image
        """The image every worker container runs."""
        self.memory_mb = memory_mb
        """Memory of one container (calls also get their own address-space limit)."""
        self.cpus = cpus
        """CPUs one container may use."""
        self.pids = pids
        """Processes and threads one container may have."""
        self.workdir_mb = workdir_mb
        """Size of the writable working directory."""
        self.client = client_factory()
        """The docker SDK client."""
        self._ensure_image(pull)
        super().__init__(workers=workers, guard=guard, startup_timeout=startup_timeout)

    @classmethod
    def from_url(cls, url: str) -> DockerSandbox:
        """Open the sandbox a ``docker://`` URL describes."""
        return cls(**parse_options(url, "docker", _OPTIONS))

    def container_options(self) -> dict[str, Any]:
        """The keyword arguments for ``client.containers.create`` of one worker."""
        config = self.worker_config(workdir=WORKDIR, uid=None, nproc=False, network=False)
        return {
            "image": self.image,
            "command": launch_command("python3", config),
            "stdin_open": True,
            "tty": False,
            "network_mode": "none",
            "network_disabled": True,
            "mem_limit": f"{self.memory_mb}m",
            "memswap_limit": f"{self.memory_mb}m",
            "nano_cpus": int(self.cpus * 1e9),
            "pids_limit": self.pids,
            "read_only": True,
            "tmpfs": {WORKDIR: f"rw,nosuid,nodev,size={self.workdir_mb}m,mode=1777"},
            "working_dir": WORKDIR,
            "user": USER,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "ipc_mode": "private",
            "init": True,
            "environment": {
                "HOME": WORKDIR,
                "TMPDIR": WORKDIR,
                "LANG": "C.UTF-8",
                "MALLOC_ARENA_MAX": "2",
            },
            "labels": {"selfeng.sandbox": "worker"},
        }

    def start_channel(self) -> Channel:
        container = None
        try:
            container = self.client.containers.create(**self.container_options())
            sock = container.attach_socket(
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            container.start()
        except docker.errors.ImageNotFound as exc:
            _remove(container)
            raise SandboxUnavailable(f"docker image {self.image!r} not found: {exc}") from exc
        except docker.errors.APIError as exc:
            _remove(container)
            raise SandboxUnavailable(f"the Docker engine refused a worker: {exc}") from exc
        except (docker.errors.DockerException, OSError) as exc:
            _remove(container)
            raise SandboxUnavailable(f"cannot start a worker container: {exc}") from exc
        return DockerChannel(container, sock)

    def describe(self) -> str:
        mode = f"a warm pool of {self._pool.size}" if self.warm else "a fresh container per call"
        return (
            f"docker: image {self.image}, {mode}, one forked child per call; no network; "
            f"memory {self.memory_mb} MB (no swap), {self.cpus:g} CPU, {self.pids} processes; "
            f"read-only root, writable: {WORKDIR} ({self.workdir_mb} MB tmpfs); user {USER}, "
            f"no capabilities, no-new-privileges; guard {'on' if self.guard else 'off'}"
        )

    def _ensure_image(self, pull: bool) -> None:
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound as exc:
            if not pull:
                raise SandboxUnavailable(
                    f"docker image {self.image!r} is not here: docker pull {self.image} "
                    "(or add pull=true to the URL)"
                ) from exc
            try:
                self.client.images.pull(self.image)
            except (docker.errors.DockerException, OSError) as err:
                raise SandboxUnavailable(f"cannot pull {self.image!r}: {err}") from err
        except (docker.errors.DockerException, OSError) as exc:
            raise SandboxUnavailable(f"the Docker engine cannot look up images: {exc}") from exc


class DockerChannel(Channel):
    """A worker container, over its attach socket (Docker's multiplexed stream)."""

    def __init__(self, container: Any, sock: Any) -> None:
        super().__init__()
        self.container = container
        self._sock_owner = sock  # keeps the HTTP response (and so the socket) alive
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._frames = bytearray()
        self._stderr = bytearray()
        self._closed = False
        self.label = f"container {str(getattr(container, 'id', '?'))[:12]}"

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise WorkerGone(f"the container's stdin is closed ({exc})") from exc

    def read(self, timeout: float) -> bytes | None:
        if self._closed:
            return b""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return None
        try:
            chunk = self._sock.recv(1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            self._closed = True
            return b""
        self._frames += chunk
        out = self._demux()
        return out or None

    def _demux(self) -> bytes:
        """Stdout payloads of the complete frames (8-byte header: stream, 0, 0, 0, size)."""
        out = bytearray()
        while len(self._frames) >= 8:
            size = int.from_bytes(self._frames[4:8], "big")
            if len(self._frames) < 8 + size:
                break
            stream, payload = self._frames[0], bytes(self._frames[8 : 8 + size])
            del self._frames[: 8 + size]
            if stream == _STDOUT:
                out += payload
            elif len(self._stderr) < 4000:
                self._stderr += payload
        return bytes(out)

    def alive(self) -> bool:
        return not self._closed

    def kill(self) -> None:
        if self._closed and self.container is None:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()
        _remove(self.container)
        self.container = None

    def diagnostics(self) -> str:
        return self._stderr.decode(errors="replace").strip()


def _remove(container: Any) -> None:
    if container is not None:
        with contextlib.suppress(docker.errors.DockerException, OSError):
            container.remove(force=True)
