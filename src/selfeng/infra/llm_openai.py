"""``openai:<model>``: chat completions from any OpenAI-compatible endpoint, through ``openai``.

Configured like the ``openai`` client itself: ``OPENAI_API_KEY`` for OpenAI, or
``OPENAI_BASE_URL`` for a local or self-hosted server (vLLM, Ollama, llama.cpp; its key may
then be left unset), and ``OPENAI_MODEL`` (default ``gpt-4o-mini``). ``SELFENG_LLM=off``
turns the model off even when those are set. A server that reports no token usage gets an
estimate. Failures are :class:`~selfeng.core.llm.LLMError` naming the endpoint and what to
check.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Final

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from selfeng.core.llm import (
    LLM,
    Completion,
    LLMError,
    LLMNotConfigured,
    estimate_tokens,
    llm_configured,
)
from selfeng.infra.openai_client import openai_client
from selfeng.schemas.learning import ChatMessage

DEFAULT_MODEL: Final[str] = "gpt-4o-mini"
"""The model when ``OPENAI_MODEL`` is unset."""


def describe_llm_setup() -> str:
    """What to set when no LLM is configured (one line)."""
    return (
        "no LLM configured: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL "
        "(a vLLM, Ollama or llama.cpp server) and OPENAI_MODEL"
    )


def _message(message: ChatMessage) -> ChatCompletionMessageParam:
    match message.role:
        case "system":
            return ChatCompletionSystemMessageParam(role="system", content=message.content)
        case "user":
            return ChatCompletionUserMessageParam(role="user", content=message.content)
        case "assistant":
            return ChatCompletionAssistantMessageParam(role="assistant", content=message.content)


class OpenAIChat(LLM):
    """A chat model behind ``client.chat.completions.create``; one request per call."""

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        client: openai.OpenAI | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.model = model or env.get("OPENAI_MODEL") or DEFAULT_MODEL
        self.base_url = base_url or env.get("OPENAI_BASE_URL") or None
        self.timeout = timeout
        key = api_key or env.get("OPENAI_API_KEY")
        self._owns_client = client is None
        if client is None:
            client = openai_client(
                api_key=key, base_url=self.base_url, timeout=timeout, max_retries=max_retries
            )
            if client is None:
                raise LLMNotConfigured(describe_llm_setup())
        self._client = client

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpenAIChat | None:
        """The model the environment configures, or None (unconfigured, or ``SELFENG_LLM=off``)."""
        env = os.environ if env is None else env
        if not llm_configured(env):
            return None
        return cls(env=env)

    @property
    def name(self) -> str:
        """``openai:<model>``."""
        return f"openai:{self.model}"

    def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> Completion:
        """The model's answer to ``messages``; ``LLMError`` when it cannot answer."""
        where = self.base_url or "the OpenAI API"
        start = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[_message(m) for m in messages],
                max_tokens=max_tokens,
                temperature=temperature,
            )
        except openai.APITimeoutError as exc:
            raise LLMError(
                f"{where} did not answer within {self.timeout:g}s (model {self.model!r}); "
                "the server may be overloaded or the model slow: raise the timeout"
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMError(
                f"cannot reach the chat endpoint at {where} ({exc}); "
                "check OPENAI_BASE_URL and that the server is running"
            ) from exc
        except openai.APIStatusError as exc:
            raise LLMError(
                f"{where} refused the chat request for model {self.model!r}: "
                f"HTTP {exc.status_code}: {exc.message}"
            ) from exc
        except openai.OpenAIError as exc:  # e.g. a body that is not a chat completion
            raise LLMError(
                f"{where} gave an unusable answer for model {self.model!r}: {exc}"
            ) from exc
        latency_ms = (time.perf_counter() - start) * 1000.0
        if not response.choices:
            raise LLMError(f"{where} returned no choices for model {self.model!r}")
        choice = response.choices[0]
        text = choice.message.content
        if text is None:
            refusal = getattr(choice.message, "refusal", None)
            why = f"refused: {refusal}" if refusal else f"finish_reason={choice.finish_reason}"
            raise LLMError(f"{where} returned no text for model {self.model!r} ({why})")
        usage = response.usage
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        if prompt_tokens is None:
            prompt_tokens = estimate_tokens("\n".join(m.content for m in messages))
        if completion_tokens is None:
            completion_tokens = estimate_tokens(text)
        return Completion(
            text=text,
            model=response.model or self.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=latency_ms,
        )

    def close(self) -> None:
        """Close the HTTP client, when this adapter made it."""
        if self._owns_client:
            self._client.close()
