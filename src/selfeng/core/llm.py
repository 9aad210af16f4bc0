"""The LLM port: a chat completion, with what it cost.

The synthesizer and the repairer talk to a model only through this port; the adapter over
the ``openai`` package (``selfeng.infra.llm.openai``) serves OpenAI and every
OpenAI-compatible server (vLLM, Ollama, llama.cpp). Callers record each call as an
``LLMCalled`` event; the port itself keeps no state.

Tool calling: ``complete`` may offer functions (:class:`FunctionSpec`); the calls the model
makes come back parsed in ``Completion.tool_calls``. An adapter raises ``LLMError`` rather
than return a call it cannot parse (arguments that are not a JSON object) or a call of a
function that was not offered, so every :class:`ToolCall` a caller sees names an offered
function and has a dict of arguments. A server that ignores the functions and answers
text gives a completion with no tool calls.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selfeng.schemas.learning import ChatMessage, FunctionSpec, ToolCall, ToolChoice

__all__ = [
    "LLM",
    "ChatMessage",
    "Completion",
    "FunctionSpec",
    "LLMError",
    "LLMNotConfigured",
    "ToolCall",
    "ToolChoice",
    "estimate_answer_tokens",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "llm_configured",
]


class LLMError(RuntimeError):
    """The model could not be reached or refused the call; the message says which."""


class LLMNotConfigured(LLMError):
    """No model is configured; the message says what to set."""


@dataclass(frozen=True)
class Completion:
    """A model's answer to a prompt."""

    text: str
    """The answer (empty when the model only called functions)."""
    model: str
    """The model that answered, as the server names it."""
    prompt_tokens: int
    """Tokens of the prompt (as the server counted them)."""
    completion_tokens: int
    """Tokens of the answer."""
    latency_ms: float
    """Wall-clock time of the call."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The functions the model called, in its order (none: it answered text only)."""

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
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        tools: Sequence[FunctionSpec] | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> Completion:
        """The model's answer to ``messages``, at most ``max_tokens`` long.

        ``tools`` offers functions the model may call and ``tool_choice`` says whether it
        must (None: the server's default). Raises ``LLMError`` when the model cannot answer,
        or answers with a call that cannot be parsed or names a function not offered.
        """

    def close(self) -> None:
        """Release connections (default: nothing to release)."""


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token), to keep a prompt within a budget."""
    return len(text) // 4 + 1


def estimate_prompt_tokens(
    messages: Sequence[ChatMessage], tools: Sequence[FunctionSpec] | None = None
) -> int:
    """A rough token count of a prompt: its messages, the calls they replay, the functions."""
    parts = [m.content for m in messages]
    calls = [call.model_dump(mode="json") for m in messages for call in m.tool_calls]
    if calls:
        parts.append(json.dumps(calls))
    if tools:
        parts.append(json.dumps([t.model_dump(mode="json") for t in tools]))
    return estimate_tokens("\n".join(parts))


def estimate_answer_tokens(text: str, tool_calls: Sequence[ToolCall] = ()) -> int:
    """A rough token count of an answer: its text and the calls it made."""
    if tool_calls:
        text += json.dumps([call.model_dump(mode="json") for call in tool_calls])
    return estimate_tokens(text)


def llm_configured(env: Mapping[str, str]) -> bool:
    """Whether the variables configure a model: ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL``
    set, and ``SELFENG_LLM`` not ``off`` (or ``none``)."""
    if env.get("SELFENG_LLM", "").strip().lower() in {"off", "none"}:
        return False
    return bool(env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"))
