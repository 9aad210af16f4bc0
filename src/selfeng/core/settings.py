"""Where selfeng keeps things: its home, the log URL and the projection store URL.

Flags win over environment variables, which win over the defaults:
``--home`` / ``SELFENG_HOME`` (default ``~/.selfeng``), ``--log`` / ``SELFENG_LOG`` (default
the SQLite log in the home), ``--store`` / ``SELFENG_STORE`` (default the SQLite projection
store in the home), ``--sandbox`` / ``SELFENG_SANDBOX`` (default the strongest sandbox that
works here) and ``--embedder`` / ``SELFENG_EMBEDDER`` (default ``lexical``).

The LLM is configured like the ``openai`` client: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and
``OPENAI_MODEL`` (``SELFENG_LLM=off`` turns it off); without them no model is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

LLM_VARIABLES = frozenset({"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "SELFENG_LLM"})
"""The environment variables that configure the LLM."""


@dataclass(frozen=True)
class Settings:
    """Resolved locations."""

    home: Path
    """The directory for the embedded log, the projection store and other local files."""
    log_url: str
    """The log: ``sqlite:///...``, ``kafka://host:port`` or ``memory://``."""
    store_url: str
    """The projection store: ``sqlite:///...`` or ``memory://``."""
    sandbox_url: str | None = None
    """``subprocess://``, ``bwrap://``, ``docker://``; None for the strongest that works."""
    embedder: str = "lexical"
    """``lexical``, ``minilm`` or ``openai:<model>``."""
    llm_env: dict[str, str] = field(default_factory=dict)
    """The ``OPENAI_*`` and ``SELFENG_LLM`` variables the LLM is configured from."""

    @classmethod
    def resolve(
        cls,
        *,
        home: str | Path | None = None,
        log: str | None = None,
        store: str | None = None,
        sandbox: str | None = None,
        embedder: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from flags, then the environment, then the defaults."""
        env = os.environ if env is None else env
        home_path = Path(home or env.get("SELFENG_HOME") or "~/.selfeng").expanduser()
        log_url = log or env.get("SELFENG_LOG") or f"sqlite:///{home_path / 'log.db'}"
        store_url = store or env.get("SELFENG_STORE") or f"sqlite:///{home_path / 'projections.db'}"
        return cls(
            home=home_path,
            log_url=log_url,
            store_url=store_url,
            sandbox_url=sandbox or env.get("SELFENG_SANDBOX") or None,
            embedder=embedder or env.get("SELFENG_EMBEDDER") or "lexical",
            llm_env={k: v for k, v in env.items() if k in LLM_VARIABLES},
        )
