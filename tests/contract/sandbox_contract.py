"""The contract every Sandbox adapter passes, with real hostile tool code.

Subclass ``SandboxContract`` once per backend and implement ``create_sandbox``; every test
here then runs against that backend (see tests/infra/test_sandbox_*.py). Class attributes
say what the operating system itself stops on that backend, without the guard (the audit
hook that refuses processes, sockets and outside writes with a clear error): the tests
marked ``bare`` run with the guard off, to show the walls that do not depend on it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import JsonValue

from selfeng.core.sandbox import Limits, Sandbox, SandboxUnavailable

REPO = Path(__file__).resolve().parents[2]
QUICK = Limits(timeout_s=1.0, cpu_s=5.0)
IDENTITY = "def f(x):\n    return x\n"


def tool(body: str, signature: str = "") -> str:
    """A module defining ``f(signature)`` with ``body`` (indented for you)."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f"def f({signature}):\n{lines}\n"


class SandboxContract:
    """Behaviour every sandbox adapter must have."""

    network_isolated = True
    """Whether the OS gives tools no network, even without the guard."""
    blocks_tmp_writes = True
    """Whether the OS stops writes to /tmp (outside the tool's directory) without the guard."""
    blocks_own_files = True
    """Whether the OS stops writes to files the sandbox's user owns (the repo), without it."""
    enforces_process_limit = True
    """Whether a process bomb hits a limit without the guard."""
    reaps_escaped_processes = True
    """Whether a process that left the call's session and pipes still dies with the call."""
    confines_calls = False
    """Whether the kernel (Landlock) confines each call without the guard: it writes no shared
    temporary directory (/tmp, /var/tmp, /dev/shm), however it asks, and executes no file."""
    hides_root_files = True
    """Whether root's files (/etc/shadow, a 0600 file, what is under /root) stay unreadable."""

    @classmethod
    def create_sandbox(cls, *, guard: bool = True, workers: int = 2) -> Sandbox:
        """A new sandbox for some tests."""
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls) -> Iterator[Sandbox]:
        """One sandbox shared by the class's tests (a warm pool of two)."""
        sandbox = cls.create_sandbox()
        try:
            yield sandbox
        finally:
            sandbox.close()

    @pytest.fixture(scope="class")
    @classmethod
    def bare(cls) -> Iterator[Sandbox]:
        """The same backend with the guard off: only the OS's walls."""
        sandbox = cls.create_sandbox(guard=False, workers=1)
        try:
            yield sandbox
        finally:
            sandbox.close()

    @pytest.fixture
    def listener(self) -> Iterator[tuple[int, list[object]]]:
        """A TCP server on the host's 127.0.0.1, and the connections it accepted."""
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(0.2)
        accepted: list[object] = []
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    accepted.append(server.accept())
                except TimeoutError:
                    continue
                except OSError:
                    return

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1], accepted
        finally:
            stop.set()
            thread.join()
            server.close()

    # -- calling a function ----------------------------------------------------------------

    def test_a_function_returns_its_value(self, sandbox: Sandbox) -> None:
        result = sandbox.run(
            tool("return {'sum': a + b, 'items': [a, b]}", "a, b"), "f", {"a": 2, "b": 3}
        )
        assert result.ok, result
        assert result.value == {"sum": 5, "items": [2, 3]}
        assert result.error is None
        assert result.error_kind is None
        assert result.sandbox == sandbox.name
        assert result.duration_ms > 0

    def test_printed_output_comes_back(self, sandbox: Sandbox) -> None:
        result = sandbox.run(tool("print('working on', x)\nreturn x", "x"), "f", {"x": 7})
        assert result.ok
        assert result.value == 7
        assert "working on 7" in result.output

    def test_an_async_tool_is_awaited(self, sandbox: Sandbox) -> None:
        code = "import asyncio\nasync def f(x):\n    await asyncio.sleep(0)\n    return x + 1\n"
        assert sandbox.run(code, "f", {"x": 1}).value == 2

    def test_a_raising_tool_fails_with_the_exception(self, sandbox: Sandbox) -> None:
        result = sandbox.run(
            tool("raise ValueError('no such city: ' + city)", "city"), "f", {"city": "X"}
        )
        assert not result.ok
        assert result.error_kind == "exception"
        assert result.error is not None
        assert "ValueError: no such city: X" in result.error
        assert "line 2" in result.error

    def test_code_that_does_not_compile_fails(self, sandbox: Sandbox) -> None:
        result = sandbox.run("def f(:\n    pass\n", "f", {})
        assert result.error_kind == "exception"
        assert "SyntaxError" in (result.error or "")

    def test_a_missing_function_fails(self, sandbox: Sandbox) -> None:
        result = sandbox.run(IDENTITY, "g", {})
        assert result.error_kind == "exception"
        assert "no function 'g'" in (result.error or "")

    def test_wrong_argument_names_are_bad_arguments(self, sandbox: Sandbox) -> None:
        unknown = sandbox.run(IDENTITY, "f", {"x": 1, "y": 2})
        assert unknown.error_kind == "bad_arguments"
        assert "unexpected keyword argument 'y'" in (unknown.error or "")
        missing = sandbox.run(IDENTITY, "f", {})
        assert missing.error_kind == "bad_arguments"
        assert "missing 1 required" in (missing.error or "")

    def test_wrong_argument_types_are_bad_arguments(self, sandbox: Sandbox) -> None:
        code = (
            "def f(n: int, xs: list[float], label: str | None = None, mode: 'Mode' = 'a'):\n"
            "    return [n, sum(xs), label]\n"
            "Mode = str\n"
        )
        assert sandbox.run(code, "f", {"n": 2, "xs": [1, 2.5]}).value == [2, 3.5, None]
        wrong = sandbox.run(code, "f", {"n": "two", "xs": []})
        assert wrong.error_kind == "bad_arguments"
        assert wrong.error == "argument 'n' must be an integer, not a string 'two'"
        item = sandbox.run(code, "f", {"n": 1, "xs": [1, "x"]})
        assert item.error_kind == "bad_arguments"
        assert "'xs' item must be a number" in (item.error or "")
        assert sandbox.run(code, "f", {"n": True, "xs": []}).error_kind == "bad_arguments"

    def test_a_type_error_inside_the_tool_is_an_exception(self, sandbox: Sandbox) -> None:
        result = sandbox.run(tool("return len(x) + 1", "x"), "f", {"x": 5})
        assert result.error_kind == "exception"
        assert "TypeError" in (result.error or "")

    def test_a_non_json_value_fails_clearly(self, sandbox: Sandbox) -> None:
        as_set = sandbox.run(tool("return {1, 2}"), "f", {})
        assert as_set.error_kind == "exception"
        assert as_set.error == "returned a set, not JSON"
        nested = sandbox.run(tool("return {'when': object()}"), "f", {})
        assert nested.error == "returned a dict containing an object, not JSON"
        nan = sandbox.run(tool("return [1.0, float('nan')]"), "f", {})
        assert nan.error == "returned a list containing a float nan, not JSON"
        assert sandbox.run(tool("return (1, 'a')"), "f", {}).value == [1, "a"]

    def test_arguments_that_are_not_json_are_bad_arguments(self, sandbox: Sandbox) -> None:
        result = sandbox.run(IDENTITY, "f", {"x": {1, 2}})  # type: ignore[dict-item]
        assert result.error_kind == "bad_arguments"

    def test_exiting_is_an_exception(self, sandbox: Sandbox) -> None:
        called_exit = sandbox.run("import sys\n" + tool("sys.exit(3)"), "f", {})
        assert called_exit.error_kind == "exception"
        assert "exit(3)" in (called_exit.error or "")
        hard = sandbox.run("import os\n" + tool("os._exit(4)"), "f", {})
        assert hard.error_kind == "exception"
        assert "status 4" in (hard.error or "")

    def test_a_huge_result_is_refused(self, sandbox: Sandbox) -> None:
        result = sandbox.run(tool("return 'x' * 9_000_000"), "f", {})
        assert result.error_kind == "resource_limit"

    # -- limits ------------------------------------------------------------------------------

    def test_an_endless_loop_times_out_and_the_pool_keeps_serving(self, sandbox: Sandbox) -> None:
        started = time.monotonic()
        result = sandbox.run(tool("while True:\n    pass"), "f", {}, Limits(timeout_s=0.5))
        assert result.error_kind == "timeout"
        assert "0.5 s" in (result.error or "")
        assert time.monotonic() - started < 2.0
        for i in range(5):
            assert sandbox.run(IDENTITY, "f", {"x": i}).value == i

    def test_a_sleeping_tool_times_out(self, sandbox: Sandbox) -> None:
        code = "import time\n" + tool("time.sleep(60)")
        assert sandbox.run(code, "f", {}, Limits(timeout_s=0.5)).error_kind == "timeout"

    def test_cpu_time_is_limited(self, sandbox: Sandbox) -> None:
        result = sandbox.run(tool("while True:\n    pass"), "f", {}, Limits(timeout_s=10, cpu_s=1))
        assert result.error_kind == "timeout"
        assert "CPU" in (result.error or "")

    def test_too_much_memory_is_a_memory_failure(self, sandbox: Sandbox) -> None:
        at_once = sandbox.run(
            tool("return len(bytearray(512 * 2**20))"), "f", {}, Limits(memory_mb=128)
        )
        assert at_once.error_kind == "memory"
        growing = tool("chunks = []\nwhile True:\n    chunks.append(bytearray(2**20))")
        assert sandbox.run(growing, "f", {}, Limits(memory_mb=128)).error_kind == "memory"
        assert sandbox.run(IDENTITY, "f", {"x": 1}).ok

    def test_file_size_is_limited(self, sandbox: Sandbox) -> None:
        code = tool("with open('big', 'wb') as out:\n    out.write(b'x' * 3 * 2**20)")
        result = sandbox.run(code, "f", {}, Limits(file_size_mb=1))
        assert result.error_kind == "resource_limit"

    def test_a_process_bomb_is_refused(self, sandbox: Sandbox) -> None:
        code = "import os\n" + tool("while True:\n    os.fork()")
        result = sandbox.run(code, "f", {}, QUICK)
        assert result.error_kind == "forbidden"
        assert "starting processes" in (result.error or "")

    def test_subprocesses_are_refused(self, sandbox: Sandbox) -> None:
        spawn = "import subprocess\n" + tool("return subprocess.run(['true']).returncode")
        assert sandbox.run(spawn, "f", {}, QUICK).error_kind == "forbidden"
        system = "import os\n" + tool("return os.system('true')")
        assert sandbox.run(system, "f", {}, QUICK).error_kind == "forbidden"

    def test_native_code_is_refused(self, sandbox: Sandbox) -> None:
        code = "import ctypes\n" + tool("return ctypes.CDLL(None).getpid()")
        assert sandbox.run(code, "f", {}, QUICK).error_kind == "forbidden"

    def test_a_process_bomb_hits_the_process_limit_without_the_guard(self, bare: Sandbox) -> None:
        if not self.enforces_process_limit:
            pytest.skip("this backend cannot enforce RLIMIT_NPROC here (not root: no private uid)")
        code = "import os, time\n" + tool(
            "children = 0\nwhile True:\n    if os.fork() == 0:\n        time.sleep(30)\n"
            "        os._exit(0)\n    children += 1"
        )
        result = bare.run(code, "f", {}, Limits(timeout_s=10, processes=16))
        assert result.error_kind == "resource_limit", result
        assert "process limit (16)" in (result.error or "")
        assert bare.run(IDENTITY, "f", {"x": 1}).ok

    def test_processes_a_call_leaves_behind_are_killed(self, bare: Sandbox) -> None:
        if not self.reaps_escaped_processes:
            pytest.skip("a daemon escapes the process group here (not root: no private uid)")
        daemon = "import os, time\n" + tool(
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    os.setsid()\n"
            "    os.closerange(0, 1024)\n"
            "    time.sleep(60)\n"
            "    os._exit(0)\n"
            "return pid"
        )
        alive = "import os, select\n" + tool(  # a pidfd: no /proc, no signal needed
            "try:\n    fd = os.pidfd_open(pid)\n"
            "except ProcessLookupError:\n    return False\n"
            "try:\n    return not select.select([fd], [], [], 1.0)[0]  # readable once it ended\n"
            "finally:\n    os.close(fd)",
            "pid",
        )
        pid = bare.run(daemon, "f", {}).value
        assert isinstance(pid, int)
        assert bare.run(alive, "f", {"pid": pid}).value is False

    # -- network -----------------------------------------------------------------------------

    def test_the_network_is_refused(
        self, sandbox: Sandbox, listener: tuple[int, list[object]]
    ) -> None:
        port, accepted = listener
        code = "import socket\n" + tool(
            "return socket.create_connection((host, port), timeout=1).getsockname()", "host, port"
        )
        for host in ("127.0.0.1", "1.1.1.1"):
            result = sandbox.run(code, "f", {"host": host, "port": port}, QUICK)
            assert result.error_kind == "forbidden", result
        dns = "import socket\n" + tool("return socket.gethostbyname('example.com')")
        assert sandbox.run(dns, "f", {}, QUICK).error_kind == "forbidden"
        assert accepted == []

    def test_there_is_no_network_without_the_guard(
        self, bare: Sandbox, listener: tuple[int, list[object]]
    ) -> None:
        if not self.network_isolated:
            pytest.skip("no network namespace for this backend here")
        port, accepted = listener
        code = "import socket\n" + tool(
            "return socket.create_connection((host, port), timeout=1).getsockname()", "host, port"
        )
        for host in ("127.0.0.1", "1.1.1.1"):
            result = bare.run(code, "f", {"host": host, "port": port}, QUICK)
            assert not result.ok, result
            assert result.error_kind == "forbidden"
            assert "no network in the sandbox" in (result.error or "")
        dns = "import socket\n" + tool("return socket.getaddrinfo('example.com', 80)")
        assert bare.run(dns, "f", {}, QUICK).error_kind == "forbidden"
        assert accepted == []

    # -- the filesystem ----------------------------------------------------------------------

    def test_writes_outside_its_directory_are_refused(self, sandbox: Sandbox) -> None:
        code = tool("with open(path, 'w') as out:\n    out.write('x')\nreturn path", "path")
        for path in ("/etc/selfeng-probe", str(REPO / "selfeng-probe"), "/tmp/../etc/x", "/tmp/x"):
            result = sandbox.run(code, "f", {"path": path}, QUICK)
            assert result.error_kind == "forbidden", (path, result)
            assert not Path(path).exists()
        assert sandbox.run(code, "f", {"path": "inside.txt"}, QUICK).value == "inside.txt"
        remove = "import os\n" + tool("os.remove(path)", "path")
        assert (
            sandbox.run(remove, "f", {"path": str(REPO / "pyproject.toml")}).error_kind
            == "forbidden"
        )

    def test_the_os_stops_writes_outside_without_the_guard(self, bare: Sandbox) -> None:
        code = tool("with open(path, 'w') as out:\n    out.write('x')\nreturn path", "path")
        paths = ["/etc/selfeng-probe"]
        if self.blocks_own_files or REPO.stat().st_uid != os.geteuid():
            paths.append(str(REPO / "selfeng-probe"))
        for path in paths:
            result = bare.run(code, "f", {"path": path}, QUICK)
            assert not result.ok, (path, result)
            # Refused, or not even there: a sandbox with a private /tmp cannot see a checkout
            # that lives under the host's /tmp (as a CI clone may).
            invisible = "No such file or directory" in (result.error or "")
            assert result.error_kind == "forbidden" or invisible, (path, result)
            assert not Path(path).exists()
        in_tmp = bare.run(code, "f", {"path": f"/tmp/selfeng-probe-{os.getpid()}"}, QUICK)
        try:
            assert in_tmp.ok is not self.blocks_tmp_writes, in_tmp
        finally:
            Path(f"/tmp/selfeng-probe-{os.getpid()}").unlink(missing_ok=True)
        assert bare.run(code, "f", {"path": "inside.txt"}, QUICK).ok

    def test_root_only_files_stay_unreadable(self, bare: Sandbox, tmp_path: Path) -> None:
        if not self.hides_root_files:
            pytest.skip("the tool runs as this user, who may read its own files")
        secrets = [tmp_path / "secret.txt"]  # 0600 in a 0700 directory
        home = Path("/root") / f".selfeng-probe-{os.getpid()}"  # a selfeng home's log
        if os.geteuid() == 0 and Path("/root").is_dir():
            home.mkdir(mode=0o700)
            secrets.append(home / "log.db")
        try:
            for secret in secrets:
                secret.write_text("TOPSECRET")
                secret.chmod(0o600)
            code = "import os\n" + tool(
                "seen = {}\n"
                "for path in paths:\n"
                "    try:\n"
                "        seen[path] = open(path).read(200)\n"
                "    except OSError as exc:\n"
                "        seen[path] = 'refused: ' + type(exc).__name__\n"
                "try:\n"
                "    seen['/root/'] = os.listdir('/root')\n"
                "except OSError as exc:\n"
                "    seen['/root/'] = 'refused: ' + type(exc).__name__\n"
                "return seen",
                "paths",
            )
            paths: list[JsonValue] = ["/etc/shadow", *map(str, secrets)]
            seen = bare.run(code, "f", {"paths": paths}, QUICK).value
        finally:
            for secret in secrets:
                secret.unlink(missing_ok=True)
            if home.is_dir():
                home.rmdir()
        assert isinstance(seen, dict), seen
        for path in paths:
            assert isinstance(path, str)
            assert str(seen[path]).startswith("refused: "), (path, seen[path])
        root = seen["/root/"]
        assert isinstance(root, (str, list)), root
        assert root == "refused: PermissionError" or home.name not in root

    def test_shared_temporary_dirs_stay_unwritten(self, sandbox: Sandbox, bare: Sandbox) -> None:
        name = f"selfeng-probe-{os.getpid()}"
        code = "import os\n" + tool(
            "done = {}\n"
            "for how in ('open', 'dir_fd', 'dir_fd_path'):\n"
            "    for folder in ('/tmp', '/var/tmp', '/dev/shm'):\n"
            "        try:\n"
            "            if how == 'open':\n"
            "                fd = os.open(folder + '/' + name, os.O_CREAT | os.O_WRONLY)\n"
            "            else:\n"
            "                flags = os.O_PATH if how == 'dir_fd_path' else os.O_RDONLY\n"
            "                where = os.open(folder, flags)\n"
            "                fd = os.open(name, os.O_CREAT | os.O_WRONLY, dir_fd=where)\n"
            "            os.write(fd, b'x')\n"
            "            done[how + ' ' + folder] = 'written'\n"
            "        except OSError as exc:\n"
            "            done[how + ' ' + folder] = type(exc).__name__\n"
            "return done",
            "name",
        )
        host = [Path(folder, name) for folder in ("/tmp", "/var/tmp", "/dev/shm")]
        try:
            for box in (bare, sandbox):  # the guard does not see writes relative to a dir_fd
                done = box.run(code, "f", {"name": name}, QUICK).value
                assert isinstance(done, dict), done
                if self.confines_calls:
                    assert "written" not in done.values(), done
                assert not any(path.exists() for path in host), done
        finally:
            for path in host:
                path.unlink(missing_ok=True)

    def test_no_program_can_be_executed(self, sandbox: Sandbox, bare: Sandbox) -> None:
        if not self.confines_calls:
            pytest.skip("this backend lets a forked process execute programs (the guard stops it)")
        code = "import _posixsubprocess, os, sys\n" + tool(
            "r, w = os.pipe()\n"
            "program = [b'/bin/true']\n"
            "try:  # what subprocess.Popen calls, below the guard's audit events\n"
            "    pid = _posixsubprocess.fork_exec(program, program, True, (w,), None, None,\n"
            "        -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, None, -1,\n"
            "        None, False)\n"
            "except TypeError:  # another Python's signature: fork and exec by hand\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        try:\n"
            "            os.execv('/bin/true', ['true'])\n"
            "        finally:\n"
            "            os.write(w, b'exec failed')\n"
            "            os._exit(1)\n"
            "os.close(w)\n"
            "failure = b''\n"
            "while chunk := os.read(r, 200):  # the child reports in several writes\n"
            "    failure += chunk\n"
            "status = os.waitpid(pid, 0)[1]\n"
            "return {'ran': status == 0 and not failure, 'failure': failure.decode()}",
        )
        for box in (bare, sandbox):  # fork_exec raises no audit event: the guard misses it
            result = box.run(code, "f", {}, QUICK)
            assert result.ok, result
            assert isinstance(result.value, dict)
            assert result.value["ran"] is False, result.value
            failure = str(result.value["failure"])
            # 1: EPERM (seccomp), d: EACCES (Landlock, where no filter is known for the machine)
            assert failure.startswith(("OSError:1:", "OSError:d:")) or failure == "exec failed"

    def test_no_program_can_be_executed_from_memory(self, bare: Sandbox) -> None:
        if not self.confines_calls:
            pytest.skip("this backend lets a forked process execute programs (the guard stops it)")
        code = "import os\n" + tool(
            "loaders = ['/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1']\n"
            "loaders = [p for p in loaders if os.path.exists(p)]\n"
            "if not loaders or not hasattr(os, 'memfd_create'):\n"
            "    return {'ran': False, 'failure': 'nothing to try'}\n"
            "with open(loaders[0], 'rb') as f:  # Landlock lets it read the loader (by name)\n"
            "    image = f.read()\n"
            "fd = os.memfd_create('x', 0)  # a file Landlock never sees\n"
            "os.write(fd, image)\n"
            "r, w = os.pipe()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    try:\n"
            "        os.execve(fd, ['ld.so', '--version'], {})\n"
            "    except OSError as exc:\n"
            "        os.write(w, str(exc.errno).encode())\n"
            "    os._exit(1)\n"
            "os.close(w)\n"
            "failure = os.read(r, 100).decode()\n"
            "status = os.waitpid(pid, 0)[1]\n"
            "return {'ran': status == 0, 'failure': failure}",
        )
        result = bare.run(code, "f", {}, QUICK)  # the guard off: the kernel is the wall
        assert result.ok, result
        assert isinstance(result.value, dict)
        assert result.value["ran"] is False, result.value

    def test_everyday_stdlib_use_works(self, sandbox: Sandbox) -> None:
        code = (
            "import csv, datetime, decimal, email.utils, hashlib, io, json, mimetypes, os, re\n"
            "import random, statistics, sys, tempfile, traceback, zlib\n"
            + tool(
                "with open('notes.txt', 'w') as out:\n"
                "    out.write('kept')\n"
                "with tempfile.TemporaryFile() as scratch:\n"
                "    scratch.write(b'x')\n"
                "try:\n"
                "    json.loads('{')\n"
                "except ValueError:\n"
                "    trace = traceback.format_exc()\n"
                "zone = '2:00:00'  # where there is no time zone database (a slim image)\n"
                "if os.path.isdir('/usr/share/zoneinfo') and sys.version_info >= (3, 9):\n"
                "    import zoneinfo\n"
                "    zone = str(datetime.datetime(2024, 7, 1, tzinfo=zoneinfo.ZoneInfo("
                "'Europe/Paris')).utcoffset())\n"
                "row = next(csv.reader(io.StringIO('a,b')))\n"
                "return {\n"
                "    'file': open('notes.txt').read(),\n"
                "    'json': json.dumps({'a': [1]}),\n"
                "    're': re.findall(r'\\d+', 'a1b22'),\n"
                "    'now': datetime.datetime.now().astimezone().year > 2000,\n"
                "    'zone': zone,\n"
                "    'mean': statistics.mean([1, 2, 3]),\n"
                "    'decimal': str(decimal.Decimal('0.1') + decimal.Decimal('0.2')),\n"
                "    'csv': row,\n"
                "    'email': email.utils.parseaddr('A <a@b.c>')[1],\n"
                "    'random': 0 <= random.random() < 1,\n"
                "    'hash': hashlib.sha256(b'').hexdigest()[:8],\n"
                "    'zlib': zlib.decompress(zlib.compress(b'z')).decode(),\n"
                "    'mime': mimetypes.guess_type('a.json')[0],\n"
                "    'trace': 'json/decoder.py' in trace and 'JSONDecodeError' in trace,\n"
                "}"
            )
        )
        expected = {
            "file": "kept",
            "json": '{"a": [1]}',
            "re": ["1", "22"],
            "now": True,
            "zone": "2:00:00",
            "mean": 2,
            "decimal": "0.3",
            "csv": ["a", "b"],
            "email": "a@b.c",
            "random": True,
            "hash": "e3b0c442",
            "zlib": "z",
            "mime": "application/json",
            "trace": True,
        }
        with self.create_sandbox(workers=0) as cold:  # nothing preloaded: every import counts
            for box in (sandbox, cold):
                result = box.run(code, "f", {}, QUICK)
                assert result.ok, result
                assert result.value == expected

    def test_files_do_not_survive_to_the_next_call(self, sandbox: Sandbox) -> None:
        write = "import os\n" + tool(
            "open('left.txt', 'w').write('secret')\nreturn os.listdir('.')"
        )
        look = "import os\n" + tool("return sorted(os.listdir('.'))")
        assert sandbox.run(write, "f", {}).value == ["left.txt"]
        for _ in range(3):
            assert sandbox.run(look, "f", {}).value == []

    # -- isolation between calls ---------------------------------------------------------------

    def test_a_flood_of_output_does_not_corrupt_the_protocol(self, sandbox: Sandbox) -> None:
        code = "import os, sys\n" + tool(
            "print('x' * 10_000_000)\n"
            "for i in range(20_000):\n    print('line', i)\n"
            'os.write(1, b\'{"id": 1, "ok": true}\\n\' * 1000)\n'
            "os.write(2, b'noise' * 10000)\n"
            "sys.__stdout__.write('more noise\\n')\n"
            "return 'done'"
        )
        result = sandbox.run(code, "f", {})
        assert result.value == "done", result
        assert len(result.output) < 100_000
        assert "more characters not kept" in result.output
        for i in range(3):
            assert sandbox.run(IDENTITY, "f", {"x": i}).value == i

    def test_changes_to_builtins_and_globals_do_not_leak(self, sandbox: Sandbox) -> None:
        tamper = "import builtins, json, sys, threading, time\n" + tool(
            "builtins.len = lambda _: 42\n"
            "json.dumps = lambda *a, **k: 'garbage'\n"
            "sys.modules['math'] = None\n"
            "threading.Thread(target=time.sleep, args=(30,)).start()\n"
            "return 'tampered'"
        )
        check = "import math, threading\nCOUNT = 0\n" + tool(
            "global COUNT\nCOUNT += 1\n"
            "return [len('abc'), COUNT, math.sqrt(16), threading.active_count()]"
        )
        sandbox.run(tamper, "f", {})
        for _ in range(3):
            assert sandbox.run(check, "f", {}).value == [3, 1, 4.0, 1]

    def test_no_call_sees_what_an_earlier_call_was_given(self, sandbox: Sandbox) -> None:
        # a hostile tool walks every object and frame it can reach, and the parent's memory
        snoop = tool(
            "import gc, sys, os\n"
            "needle = 'TOP' + 'SECRET' + '-42'\n"
            "found = set()\n"
            "def look(v):\n"
            "    if isinstance(v, str) and needle in v and v is not needle:\n"
            "        found.add(v[:40])\n"
            "for o in gc.get_objects():\n"
            "    if isinstance(o, dict):\n"
            "        for v in list(o.values()): look(v)\n"
            "    elif isinstance(o, (list, tuple)):\n"
            "        for v in o: look(v)\n"
            "f = sys._getframe()\n"
            "while f is not None:\n"
            "    for v in list(f.f_locals.values()) + list(f.f_globals.values()): look(v)\n"
            "    f = f.f_back\n"
            "try:\n"
            "    with open(f'/proc/{os.getppid()}/environ', 'rb') as fh:\n"
            "        if needle.encode() in fh.read(): found.add('parent environ')\n"
            "except OSError:\n"
            "    pass\n"
            "return sorted(found)"
        )
        for _ in range(4):  # every warm worker takes a secret
            assert sandbox.run(IDENTITY, "f", {"x": "TOPSECRET-42 the password"}).ok
        for _ in range(4):
            result = sandbox.run(snoop, "f", {})
            assert result.ok, result
            assert result.value == []

    def test_a_tool_cannot_kill_its_worker(self, sandbox: Sandbox) -> None:
        code = "import os, signal\n" + tool("os.kill(os.getppid(), signal.SIGKILL)\nreturn 1")
        result = sandbox.run(code, "f", {})
        assert not result.ok
        for i in range(3):
            assert sandbox.run(IDENTITY, "f", {"x": i}).value == i

    # -- tests -------------------------------------------------------------------------------

    def test_tests_pass_and_fail_with_reasons(self, sandbox: Sandbox) -> None:
        code = "def add(a, b):\n    return a + b\n"
        tests = (
            "def test_adds():\n    assert add(1, 2) == 3\n\n"
            "def test_wrong():\n    assert add(2, 2) == 5\n\n"
            "def test_message():\n    assert add(1, 1) == 3, 'one and one'\n\n"
            "def test_raises():\n    print('about to fail')\n    add(1, None)\n\n"
            "def helper():\n    raise AssertionError('not a test')\n"
        )
        run = sandbox.run_tests(code, tests, QUICK)
        assert (run.passed, run.failed) == (1, 3)
        assert not run.ok
        assert set(run.failures) == {"test_wrong", "test_message", "test_raises"}
        assert "assert add(2, 2) == 5" in run.failures["test_wrong"]
        assert "left: 4, right: 5" in run.failures["test_wrong"]
        assert run.failures["test_message"].startswith("AssertionError: one and one")
        assert "TypeError" in run.failures["test_raises"]
        assert "PASS test_adds" in run.output
        assert "about to fail" in run.output
        assert run.sandbox == sandbox.name

    def test_passing_tests_are_ok(self, sandbox: Sandbox) -> None:
        run = sandbox.run_tests(IDENTITY, "def test_a():\n    assert f(1) == 1\n", QUICK)
        assert run.ok
        assert (run.passed, run.failed) == (1, 0)

    def test_a_hanging_test_fails_the_rest(self, sandbox: Sandbox) -> None:
        tests = (
            "def test_first():\n    assert f(1) == 1\n\n"
            "def test_hangs():\n    while True:\n        pass\n\n"
            "def test_last():\n    assert True\n"
        )
        run = sandbox.run_tests(IDENTITY, tests, Limits(timeout_s=0.5))
        assert (run.passed, run.failed) == (1, 2)
        assert "timed out" in run.failures["test_hangs"]
        assert "timed out" in run.failures["test_last"]

    def test_code_that_fails_to_load_fails_every_test(self, sandbox: Sandbox) -> None:
        tests = "def test_a():\n    pass\n\nasync def test_b():\n    pass\n"
        run = sandbox.run_tests("raise RuntimeError('broken')\n", tests, QUICK)
        assert (run.passed, run.failed) == (0, 2)
        assert "broken" in run.failures["test_a"]

    def test_no_tests_is_not_ok(self, sandbox: Sandbox) -> None:
        run = sandbox.run_tests(IDENTITY, "x = 1\n", QUICK)
        assert (run.passed, run.failed, run.ok) == (0, 0, False)

    # -- the pool ----------------------------------------------------------------------------

    def test_warm_workers_serve_many_calls(self) -> None:
        with self.create_sandbox(workers=2) as sandbox:
            before = {w.id: w.calls for w in sandbox.workers()}  # type: ignore[attr-defined]
            assert len(before) == 2
            for i in range(50):
                assert sandbox.run(IDENTITY, "f", {"x": i}).value == i
            after = {w.id: w.calls for w in sandbox.workers()}  # type: ignore[attr-defined]
        assert set(after) == set(before)  # no worker was started: they were reused
        assert sum(after.values()) - sum(before.values()) == 50

    def test_a_killed_worker_is_replaced(self) -> None:
        with self.create_sandbox(workers=1) as sandbox:
            [first] = sandbox.workers()  # type: ignore[attr-defined]
            assert sandbox.kill_worker(first.id)  # type: ignore[attr-defined]
            for i in range(3):
                assert sandbox.run(IDENTITY, "f", {"x": i}).value == i
            [second] = sandbox.workers()  # type: ignore[attr-defined]
            assert second.id != first.id

    def test_concurrent_calls_share_the_pool(self, sandbox: Sandbox) -> None:
        results: list[int] = []

        def caller(n: int) -> None:
            for i in range(10):
                value = sandbox.run(IDENTITY, "f", {"x": n * 100 + i}).value
                assert isinstance(value, int), value
                results.append(value)

        threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == sorted(n * 100 + i for n in range(4) for i in range(10))
        assert len(sandbox.workers()) <= 2  # type: ignore[attr-defined]

    def test_a_cold_sandbox_starts_a_worker_per_call(self) -> None:
        with self.create_sandbox(workers=0) as cold:
            assert cold.run(IDENTITY, "f", {"x": 1}).value == 1
            assert cold.run_tests(IDENTITY, "def test_a():\n    assert f(2) == 2\n").ok
            assert cold.workers() == []  # type: ignore[attr-defined]

    def test_a_closed_sandbox_says_so(self) -> None:
        sandbox = self.create_sandbox(workers=1)
        sandbox.close()
        with pytest.raises(SandboxUnavailable, match="closed"):
            sandbox.run(IDENTITY, "f", {"x": 1})

    def test_describe_names_the_backend(self, sandbox: Sandbox) -> None:
        assert sandbox.describe().startswith(sandbox.name + ":")
