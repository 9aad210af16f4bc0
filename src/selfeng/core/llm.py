"""The LLM port: a chat completion, with what it cost.

The synthesizer and the repairer talk to a model only through this port; the adapter over
the ``openai`` package (``selfeng.infra.llm_openai``) serves OpenAI and every
OpenAI-compatible server (vLLM, Ollama, llama.cpp). Callers record each call as an
``LLMCalled`` event; the port itself keeps no state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selfeng.schemas.learning import ChatMessage


class LLMError(RuntimeError):
    """The model could not be reached or refused the call; the message says which."""


class LLMNotConfigured(LLMError):
    """No model is configured; the message says what to set."""


@dataclass(frozen=True)
class Completion:
    """A model's answer to a prompt."""

    text: str
    """The answer."""
    model: str
    """The model that answered, as the server names it."""
    prompt_tokens: int
    """Tokens of the prompt (as the server counted them)."""
    completion_tokens: int
    """Tokens of the answer."""
    latency_ms: float
    """Wall-clock time of the call."""

    @property
    def total_tokens(self) -> int:
        """Prompt and answer tokens together."""
        return self.prompt_tokens + self.completion_tokens


class LLM(ABC):
    """A chat model."""

    model: str
    """The model asked for."""

    @property
    def name(self) -> str:
        """How the model is shown (``openai:<model>``)."""
        return self.model

    @abstractmethod
    def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> Completion:
        """The model's answer to ``messages``, at most ``max_tokens`` long.

        Raises ``LLMError`` when the model cannot answer.
        """

    def close(self) -> None:
        """Release connections (default: nothing to release)."""


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token), to keep a prompt within a budget."""
    return len(text) // 4 + 1


def llm_configured(env: Mapping[str, str]) -> bool:
    """Whether the variables configure a model: ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL``
    set, and ``SELFENG_LLM`` not ``off`` (or ``none``)."""
    if env.get("SELFENG_LLM", "").strip().lower() in {"off", "none"}:
        return False
    return bool(env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"))
