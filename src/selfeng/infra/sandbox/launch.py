"""How a backend starts a sandbox worker: the command line, and the modules it carries in.

Runs on the host only. The worker (``sandbox.worker``) and the modules it needs are not
imported inside the sandbox, where neither ``selfeng`` nor ``site`` is: their sources (or,
for this very interpreter, their compiled code) go in with the command, and a small loader
given to ``python -I -S -c`` defines each of ``MODULES`` in order, as a module named
``selfeng_sandbox_<name>`` in ``sys.modules`` before the next one runs (each finds the ones
before it there, and falls back to a normal import on the host), then runs the last one,
the worker, as ``__main__``. So they are stdlib only, Python 3.9 or newer, and cheap to
import: a cold worker's start is mostly imports.
"""

from __future__ import annotations

import os
from typing import Any, Final

from selfeng.infra.sandbox import wire

MODULES: Final = (
    "wire",
    "guard",
    "failures",
    "json_types",
    "privileges",
    "landlock",
    "call",
    "mounts",
    "running",
    "worker",
)
"""The modules of ``selfeng.infra.sandbox`` a worker is made of, each after those it needs;
the last one is the worker's program."""

MODULE_PREFIX: Final = "selfeng_sandbox_"
"""Inside a sandbox, module ``call`` is ``selfeng_sandbox_call`` in ``sys.modules``."""

_DEFINE: Final = (
    "for name, code in zip(names, codes[:-1]):\n"
    f"    m = type(sys)({MODULE_PREFIX!r} + name)\n"
    "    sys.modules[m.__name__] = m\n"
    "    exec(code, m.__dict__)\n"
    "exec(codes[-1], {'__name__': '__main__'})\n"
)

LOADER: Final = (
    "import sys\n"
    f"names = {MODULES!r}\n"
    "codes = [compile(s, '<sandbox_' + n + '>', 'exec') for n, s in zip(names, sys.argv[1:])]\n"
    + _DEFINE
)
"""The ``-c`` program for any Python: defines the modules from the sources after it."""

BYTECODE_LOADER: Final = (
    "import marshal, os, sys\n"
    "def read(n):\n"
    "    data = b''\n"
    "    while len(data) < n:\n"
    "        chunk = os.read(0, n - len(data))\n"
    "        if not chunk:\n"
    "            raise SystemExit('the worker got no code on stdin')\n"
    "        data += chunk\n"
    "    return data\n"
    f"names = {MODULES!r}\n"
    "codes = marshal.loads(read(int(read(16))))\n" + _DEFINE
)
"""The ``-c`` program for this very interpreter: the modules come compiled, on stdin."""


def launch_command(python: str, config: dict[str, Any]) -> list[str]:
    """The command line that starts a worker with any ``python`` (a path inside the sandbox)."""
    return [python, "-I", "-S", "-c", LOADER, *_sources(), wire.dumps(config)]


def launch_compiled(python: str, config: dict[str, Any]) -> tuple[list[str], bytes]:
    """The command line for this interpreter's own binary, and what to write to its stdin.

    The worker's modules go over stdin compiled (``marshal``): compiling their 1,900 lines
    would cost a cold start about 10 ms. ``python`` must be the running interpreter.
    """
    return [python, "-I", "-S", "-c", BYTECODE_LOADER, wire.dumps(config)], _bytecode()


def _sources() -> list[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    sources = []
    for name in MODULES:
        with open(os.path.join(here, name + ".py"), encoding="utf-8") as f:
            sources.append(f.read())
    return sources


_BYTECODE: list[bytes] = []


def _bytecode() -> bytes:
    if not _BYTECODE:
        import marshal

        codes = tuple(
            compile(source, f"<sandbox_{name}>", "exec", dont_inherit=True)
            for name, source in zip(MODULES, _sources(), strict=True)
        )
        blob = marshal.dumps(codes)
        _BYTECODE.append(b"%016d" % len(blob) + blob)
    return _BYTECODE[0]
