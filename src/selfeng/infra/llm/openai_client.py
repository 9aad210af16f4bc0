"""The ``openai`` client both OpenAI adapters (embeddings and chat) are built on."""

from __future__ import annotations

from typing import Final

import openai

NO_KEY: Final[str] = "local-server-needs-no-key"
"""The key sent to an ``OPENAI_BASE_URL`` server when ``OPENAI_API_KEY`` is unset."""


def openai_client(
    *, api_key: str | None, base_url: str | None, timeout: float, max_retries: int
) -> openai.OpenAI | None:
    """A client for OpenAI (a key) or any OpenAI-compatible server (a base URL, where the key
    may be left unset); None when neither is given."""
    if not api_key and not base_url:
        return None
    return openai.OpenAI(
        api_key=api_key or NO_KEY, base_url=base_url, timeout=timeout, max_retries=max_retries
    )
