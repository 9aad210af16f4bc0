"""The OpenAI embedder through the real ``openai`` client, against a local compatible server."""

import base64
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

pytest.importorskip(
    "openai", reason="the openai extra is not installed: pip install selfeng[openai]"
)

from selfeng.core.backends import BackendError, open_embedder
from selfeng.core.search import ToolIndex
from selfeng.infra.embed.openai import EmbeddingError, OpenAIEmbedder

DIM = 16


def vector(text: str) -> list[float]:
    """Deterministic and unnormalised: letter counts, plus a hash-seeded jitter."""
    v = np.zeros(DIM)
    for c in text.lower():
        if c.isalpha():
            v[ord(c) % DIM] += 1.0
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    v += np.random.default_rng(seed).random(DIM) * 0.01
    return [float(x) * 3.0 for x in v]


@dataclass
class Server:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path != "/v1/embeddings":
                self._reply(404, {"error": {"message": f"no route {self.path}"}})
                return
            if state.status != 200:
                self._reply(state.status, {"error": {"message": "invalid api key"}})
                return
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = []
            for i, text in enumerate(texts):
                v = vector(text)
                if body.get("encoding_format") == "base64":
                    emb: Any = base64.b64encode(np.asarray(v, dtype=np.float32).tobytes()).decode()
                else:
                    emb = v
                data.append({"object": "embedding", "index": i, "embedding": emb})
            data.reverse()  # the client must put them back in order by index
            self._reply(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                },
            )

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def make(server: Server, **kwargs: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        kwargs.pop("model", "test-embed"),
        api_key="sk-test",
        base_url=server.url,
        max_retries=0,
        **kwargs,
    )


def test_rows_come_back_in_order_and_normalised(server: Server) -> None:
    embedder = make(server)
    texts = ["reverse a string", "add numbers", "convert celsius"]
    rows = embedder.embed(texts)
    assert rows.shape == (3, DIM)
    assert rows.dtype == np.float32
    assert np.linalg.norm(rows, axis=1) == pytest.approx(1.0, abs=1e-6)
    for row, text in zip(rows, texts, strict=True):
        expected = np.asarray(vector(text))
        assert row == pytest.approx(expected / np.linalg.norm(expected), abs=1e-6)
    (request,) = server.requests
    assert request["model"] == "test-embed"
    assert request["input"] == texts
    assert server.headers[0]["authorization"] == "Bearer sk-test"


def test_batches_and_blank_texts(server: Server) -> None:
    embedder = make(server, batch_size=2)
    rows = embedder.embed(["a b", "", "c d", "   ", "e f", "g h", "i"])
    assert [r["input"] for r in server.requests] == [["a b", "c d"], ["e f", "g h"], ["i"]]
    assert not rows[1].any()  # blank texts: zero rows, never sent
    assert not rows[3].any()
    assert embedder.embed([]).shape[0] == 0
    assert embedder.embed(["", " "]).shape[0] == 2


def test_long_texts_are_cut(server: Server) -> None:
    make(server, max_chars=100).embed(["x" * 10_000])
    assert len(server.requests[0]["input"][0]) == 100


def test_search_through_the_index(server: Server) -> None:
    index = ToolIndex(make(server), {"rev": "reverse", "sum": "summation total"})
    name, score = index.search("reverse", 1)[0]
    assert name == "rev"
    assert score == pytest.approx(1.0, abs=1e-3)
    calls = len(server.requests)
    index.build({"rev": ["reverse", "flip it"], "sum": "summation total"})
    assert server.requests[calls:] == [
        {"model": "test-embed", "input": ["flip it"], "encoding_format": "float"}
    ]  # only the new phrasing is embedded


def test_an_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    embedder = OpenAIEmbedder(
        api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=5
    )
    with pytest.raises(EmbeddingError, match=r"cannot reach the embeddings endpoint at http://127"):
        embedder.embed(["hello"])


def test_a_refusal_names_the_status(server: Server) -> None:
    server.status = 401
    with pytest.raises(EmbeddingError, match=r"HTTP 401: .*invalid api key"):
        make(server).embed(["hello"])


def test_configured_from_the_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_EMBEDDING_MODEL", "from-env")
    embedder = open_embedder("openai")
    assert embedder.name == "openai:from-env"
    assert open_embedder("openai:text-embedding-3-large").name == "openai:text-embedding-3-large"
    monkeypatch.delenv("OPENAI_EMBEDDING_MODEL")
    default = open_embedder("openai:")
    assert default.name == "openai:text-embedding-3-small"
    default.embed(["hi there"])  # a local server needs no key
    assert server.requests[-1]["model"] == "text-embedding-3-small"


def test_without_key_or_server_it_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendError, match="OPENAI_API_KEY"):
        open_embedder("openai:text-embedding-3-small")
