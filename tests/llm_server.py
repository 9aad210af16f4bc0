"""A scripted OpenAI-compatible chat server for the tests (a pytest plugin module).

``llm_server`` (function scope) is a :class:`ScriptedLLMServer`: a real HTTP server on a
free local port that answers ``POST /v1/chat/completions`` with the replies a test scripts,
in order, so the code under test goes through the real ``openai`` client::

    llm_server.script("first answer", Reply("busy", status=429))
    llm = llm_server.llm()  # or OpenAIChat.from_env(llm_server.env())
    ...
    assert "the task" in llm_server.requests[0]["messages"][-1]["content"]

When the script runs out the server answers HTTP 500 "no scripted reply left", so a test
that calls the model more often than it scripted fails with a clear ``LLMError``.

A reply can call functions, as a model does when it is offered ``tools``::

    llm_server.script(Reply(None, tool_calls=[("add_numbers", {"a": 2, "b": 3})]))
    llm_server.script(Reply(None, tool_calls=[("add_numbers", '{"a": 2,')]))  # malformed

Each call gets an id ``call_<n>`` (numbered across the server's life) unless a third item
gives one, and the finish reason is ``tool_calls``.

Instead of a script, a *responder* may compute each reply from the request, e.g. an oracle
that answers from ground truth: ``llm_server.respond(lambda body: Reply(...))``. Scripted
replies still come first; the responder answers once the script is empty.

Use it as a plugin (``pytest_plugins = ["tests.llm_server"]`` in the root conftest), or
outside pytest (a benchmark) as ``with serve() as server: ...``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from selfeng.infra.llm.openai import OpenAIChat

MODEL = "scripted-model"
"""The model ``env()`` and ``llm()`` ask for."""

API_KEY = "test-key"
"""The key ``env()`` and ``llm()`` send."""

ScriptedCall = tuple[str, Any] | tuple[str, Any, str]
"""A function call of a reply: ``(name, arguments)`` or ``(name, arguments, id)``; arguments
that are a string are sent verbatim (to script malformed JSON), anything else as JSON."""


@dataclass(frozen=True)
class Reply:
    """One scripted answer of the server."""

    content: str | None
    """The answer's text (``None``: a null ``content``); for an error status, its message."""
    status: int = 200
    """The HTTP status; not 200 answers ``{"error": {"message": content}}``."""
    prompt_tokens: int | None = None
    """Reported prompt tokens (default: words of the prompt's messages)."""
    completion_tokens: int | None = None
    """Reported answer tokens (default: words of the answer)."""
    delay_s: float = 0.0
    """Seconds to wait before answering (to make the client time out)."""
    usage: bool = True
    """False: no ``usage`` in the body, as some servers do."""
    model: str | None = None
    """The model the body names (default: the one asked for)."""
    choices: bool = True
    """False: an empty ``choices`` list."""
    tool_calls: Sequence[ScriptedCall] = ()
    """Functions the answer calls (see :data:`ScriptedCall`)."""
    finish_reason: str | None = None
    """The finish reason (default: ``tool_calls`` when it calls functions, else ``stop``)."""
    message: dict[str, Any] | None = None
    """The whole ``message`` object, verbatim (overrides ``content`` and ``tool_calls``)."""


Responder = Callable[[dict[str, Any]], "Reply | str"]
"""Computes a reply from a request's JSON body (its messages, tools, tool_choice)."""


@dataclass
class ScriptedLLMServer:
    """A local OpenAI-compatible chat server answering from a script."""

    base_url: str = ""
    """``http://127.0.0.1:<port>/v1``."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    """The JSON bodies received, in order."""
    _replies: deque[Reply] = field(default_factory=deque)
    _responder: Responder | None = None
    _planning: Reply | None = None
    _acceptance: Responder | None = None
    acceptance_requests: list[dict[str, Any]] = field(default_factory=list)
    """The requests answered by :meth:`accept`'s responder, in order."""
    planning_requests: list[dict[str, Any]] = field(default_factory=list)
    """The requests answered by :meth:`decline_planning`'s reply, in order."""
    _call_ids: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def script(self, *replies: str | Reply) -> None:
        """Queue answers, each a text or a :class:`Reply`."""
        with self._lock:
            self._replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def decline_planning(self, reply: str = "No offered function can answer this request.") -> None:
        """Answer every request that offers functions (the request handler asking the LLM
        to plan) with ``reply`` and no call, outside the script, and keep those requests in
        ``planning_requests``: for tests about what comes after (tool synthesis)."""
        with self._lock:
            self._planning = Reply(reply)

    def accept(self, responder: Responder) -> None:
        """Answer every request for a tool's acceptance answer (the synthesizer's first
        call, before any code) with ``responder(body)``, outside the script, and keep those
        requests in ``acceptance_requests``."""
        with self._lock:
            self._acceptance = responder

    def respond(self, responder: Responder | None) -> None:
        """Answer every request the script does not with ``responder(body)`` (None: stop).

        A responder that raises makes the server answer HTTP 500 with the exception.
        """
        with self._lock:
            self._responder = responder

    @property
    def pending(self) -> int:
        """Scripted replies not yet given."""
        with self._lock:
            return len(self._replies)

    def env(self) -> dict[str, str]:
        """The environment that configures a model served here."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": API_KEY, "OPENAI_MODEL": MODEL}

    def llm(self, *, model: str = MODEL, timeout: float = 5.0) -> OpenAIChat:
        """An :class:`OpenAIChat` for this server (no retries, a short timeout)."""
        return OpenAIChat(
            model, api_key=API_KEY, base_url=self.base_url, timeout=timeout, max_retries=0
        )

    def _take(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._planning is not None and body.get("tools"):
                self.planning_requests.append(body)
                return self._planning
            messages: list[dict[str, Any]] = body.get("messages", [])
            system = next((m for m in messages if m.get("role") == "system"), {})
            if self._acceptance is not None and str(system.get("content", "")).startswith(
                "Before a tool is written"
            ):
                self.acceptance_requests.append(body)
                found = self._acceptance(body)
                return found if isinstance(found, Reply) else Reply(found)
            self.requests.append(body)
            if self._replies:
                return self._replies.popleft()
            responder = self._responder
        if responder is None:
            return Reply("no scripted reply left", status=500)
        try:  # outside the lock: a responder may look at the requests or script more
            reply = responder(body)
        except Exception as exc:
            return Reply(f"the responder failed: {type(exc).__name__}: {exc}", status=500)
        return reply if isinstance(reply, Reply) else Reply(reply)

    def _next_call_id(self) -> str:
        with self._lock:
            return f"call_{next(self._call_ids)}"


def _words(text: object) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def _tool_call(call: ScriptedCall, server: ScriptedLLMServer) -> dict[str, Any]:
    name, arguments = call[0], call[1]
    call_id = call[2] if len(call) == 3 else server._next_call_id()
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def _answer(reply: Reply, body: dict[str, Any], server: ScriptedLLMServer) -> dict[str, Any]:
    if reply.status != 200:
        return {"error": {"message": reply.content, "type": "scripted", "code": reply.status}}
    messages = body.get("messages") or []
    prompt = sum(_words(m.get("content")) for m in messages if isinstance(m, dict))
    answer: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or body.get("model") or MODEL,
        "choices": [],
    }
    calls = [_tool_call(call, server) for call in reply.tool_calls]
    if reply.choices:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if calls:
            message["tool_calls"] = calls
        answer["choices"] = [
            {
                "index": 0,
                "message": reply.message if reply.message is not None else message,
                "finish_reason": reply.finish_reason or ("tool_calls" if calls else "stop"),
            }
        ]
    if reply.usage:
        p = prompt if reply.prompt_tokens is None else reply.prompt_tokens
        c = reply.completion_tokens
        if c is None:
            c = _words(reply.content) + sum(_words(x["function"]["arguments"]) for x in calls)
        answer["usage"] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    return answer


@contextmanager
def serve() -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI-compatible chat server on a free local port, for the block."""
    state = ScriptedLLMServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                self._reply(400, {"error": {"message": "the body is not JSON"}})
                return
            if self.path != "/v1/chat/completions":
                self._reply(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = state._take(body)
            if reply.delay_s and state._stopping.wait(reply.delay_s):
                return  # the fixture is closing: drop the answer
            self._reply(reply.status, _answer(reply, body, state))

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timed out)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state._stopping.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI-compatible chat server on a free local port."""
    with serve() as server:
        yield server
