"""Adapters chosen by URL scheme, through a lazy table of ``"module:Class"`` strings.

Nothing here imports an adapter until a URL asks for it, so the embedded default never
loads kafka-python or psycopg, and core never imports infra at import time.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from selfeng.core.embedder import Embedder
    from selfeng.core.llm import LLM
    from selfeng.core.log import EventLog
    from selfeng.core.sandbox import Sandbox
    from selfeng.core.settings import Settings
    from selfeng.core.store import ProjectionStore
    from selfeng.core.vector_store import VectorStore

LOGS: Final[dict[str, str]] = {
    "memory": "selfeng.infra.log.memory:MemoryLog",
    "sqlite": "selfeng.infra.log.sqlite:SqliteLog",
    "kafka": "selfeng.infra.log.kafka:KafkaLog",
}
"""Log adapters by URL scheme."""

STORES: Final[dict[str, str]] = {
    "memory": "selfeng.infra.store.memory:MemoryStore",
    "sqlite": "selfeng.infra.store.sqlite:SqliteStore",
    "postgresql": "selfeng.infra.store.postgres:PostgresStore",
    "postgres": "selfeng.infra.store.postgres:PostgresStore",
}
"""Projection store adapters by URL scheme."""

TOOL_VECTORS: Final[dict[str, str]] = {
    "postgresql": "selfeng.infra.store.tool_vectors:PgToolVectors",
    "postgres": "selfeng.infra.store.tool_vectors:PgToolVectors",
}
"""Where tool search keeps a dense embedder's rows, by the projection store's URL scheme."""

SANDBOXES: Final[dict[str, str]] = {
    "subprocess": "selfeng.infra.sandbox.subprocess:SubprocessSandbox",
    "bwrap": "selfeng.infra.sandbox.bwrap:BwrapSandbox",
    "docker": "selfeng.infra.sandbox.docker:DockerSandbox",
    "auto": "selfeng.infra.sandbox.strongest:StrongestSandbox",
}
"""Sandbox adapters by URL scheme (``auto://``: the strongest that works here)."""

EMBEDDERS: Final[dict[str, str]] = {
    "lexical": "selfeng.infra.embed.lexical:LexicalEmbedder",
    "minilm": "selfeng.infra.embed.minilm:MiniLMEmbedder",
    "openai": "selfeng.infra.embed.openai:OpenAIEmbedder",
}
"""Embedders by name: ``lexical``, ``minilm``, ``openai:<model>``."""

EXTRAS: Final[dict[str, str]] = {
    "kafka": "kafka",
    "postgresql": "postgres",
    "postgres": "postgres",
    "docker": "docker",
    "minilm": "minilm",
    "openai": "openai",
}
"""The pip extra each optional backend needs."""


def redacted(url: str) -> str:
    """``url`` without its password (for messages and ``selfeng doctor``)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


class BackendError(ValueError):
    """A URL names no known backend, or its backend's dependencies are missing."""


def _load(table: dict[str, str], url: str, what: str) -> Any:
    scheme = urlsplit(url).scheme
    target = table.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in table)
        raise BackendError(f"no {what} backend for {redacted(url)!r}; known: {known}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = EXTRAS.get(scheme, scheme)
        raise BackendError(
            f"{scheme}:// needs an optional dependency ({exc.name} is missing): "
            f"pip install 'selfeng[{extra}]'"
        ) from exc
    return getattr(module, class_name)


def _open(table: dict[str, str], url: str, what: str) -> Any:
    cls = _load(table, url, what)
    try:
        return cls.from_url(url)
    except BackendError:
        raise
    except ValueError as exc:  # a malformed URL or option: say which URL
        raise BackendError(f"{what} URL {redacted(url)!r}: {exc}") from exc


def open_log(url: str) -> EventLog:
    """Open the log a URL names: ``memory://``, ``sqlite:///path`` or ``kafka://host:port``."""
    log: EventLog = _open(LOGS, url, "log")
    return log


def open_store(url: str) -> ProjectionStore:
    """Open the projection store a URL names: ``memory://``, ``sqlite:///path`` or
    ``postgresql://...``."""
    store: ProjectionStore = _open(STORES, url, "projection store")
    return store


def open_embedder(name: str) -> Embedder:
    """Open the embedder a name selects: ``lexical``, ``minilm`` or ``openai:<model>``."""
    url = name if ":" in name else f"{name}:"
    embedder: Embedder = _open(EMBEDDERS, url, "embedder")
    return embedder


def open_tool_vectors(store_url: str, embedder: Embedder) -> VectorStore | None:
    """Where tool search keeps its rows: pgvector in the store's database and schema when the
    projection store is PostgreSQL and the embedder's rows do not depend on the corpus
    (``minilm``, ``openai:<model>``); None (in process) for any other store, and for the
    ``lexical`` embedder, whose BM25 scores come from the whole corpus. When the database
    cannot keep them (no pgvector, or no right to create it), a warning says why and tool
    search runs in process: the same answers, without the shared rows."""
    from selfeng.core.embedder import DocumentEmbedder

    dense = not getattr(embedder, "corpus_dependent", True)
    if not dense or isinstance(embedder, DocumentEmbedder):
        return None
    if urlsplit(store_url).scheme not in TOOL_VECTORS:
        return None
    try:
        vectors: VectorStore = _open(TOOL_VECTORS, store_url, "tool vectors")
    except Exception as exc:  # psycopg's errors, a missing extension, a missing package
        reason = " ".join(str(exc).split()) or repr(exc)
        logging.getLogger(__name__).warning(
            "tool search runs in process: no tool vectors in %s (%s)", redacted(store_url), reason
        )
        return None
    return vectors


def open_llm(settings: Settings) -> LLM | None:
    """The LLM the settings configure (``OPENAI_*``), or None when none is configured or the
    ``openai`` extra is not installed."""
    from selfeng.core.llm import llm_configured

    if not llm_configured(settings.llm_env):
        return None  # decided before importing openai, which takes a while
    try:
        adapter = importlib.import_module("selfeng.infra.llm.openai")
    except ImportError:  # the openai extra is not installed
        return None
    llm: LLM | None = adapter.OpenAIChat.from_env(settings.llm_env)
    return llm


def check_parts(sandbox_url: str | None, embedder: str) -> None:
    """Raise ``BackendError`` now, before anything is appended, when the sandbox URL or the
    embedder name names no backend, or its optional dependency is missing (they are opened
    on first use, which may be in the middle of a request)."""
    _load(SANDBOXES, sandbox_url or "auto://", "sandbox")
    _load(EMBEDDERS, embedder if ":" in embedder else f"{embedder}:", "embedder")


def open_sandbox(url: str) -> Sandbox:
    """Open the sandbox a URL names: ``subprocess://``, ``bwrap://``, ``docker://``, ``auto://``.

    Options go in the query (``subprocess://?workers=2``); a backend that cannot run here
    raises ``SandboxUnavailable`` with the reason.
    """
    sandbox: Sandbox = _open(SANDBOXES, url, "sandbox")
    return sandbox
