"""``openai:<model>``: chat completions from any OpenAI-compatible endpoint, through ``openai``.

Configured like the ``openai`` client itself: ``OPENAI_API_KEY`` for OpenAI, or
``OPENAI_BASE_URL`` for a local or self-hosted server (vLLM, Ollama, llama.cpp; its key may
then be left unset), and ``OPENAI_MODEL`` (default ``gpt-4o-mini``). ``SELFENG_LLM=off``
turns the model off even when those are set. A server that reports no token usage gets an
estimate. Failures are :class:`~selfeng.core.llm.LLMError` naming the endpoint and what to
check.

Tool calling: the functions offered go out as ``tools`` (type ``function``) with
``tool_choice``; ``message.tool_calls`` come back parsed into
:class:`~selfeng.core.llm.ToolCall`. Arguments that are not a JSON object (invalid JSON,
truncated by ``max_tokens``, a list, ``NaN``), a call of a function not offered, or a
non-function (custom) tool call raise ``LLMError`` naming the function, the call and the
text the model wrote: a call is returned parsed or not at all. Empty arguments (some local
servers send ``""`` for a function without parameters) are ``{}``; a call without an id
gets ``call_<index>``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Final, NoReturn

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.shared_params import FunctionDefinition
from pydantic import JsonValue, ValidationError

from selfeng.core.llm import (
    LLM,
    Completion,
    FunctionSpec,
    LLMError,
    LLMNotConfigured,
    ToolCall,
    ToolChoice,
    estimate_answer_tokens,
    estimate_prompt_tokens,
    llm_configured,
)
from selfeng.infra.llm.openai_client import openai_client
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
        case "assistant" if message.tool_calls:
            return ChatCompletionAssistantMessageParam(
                role="assistant",
                content=message.content or None,
                tool_calls=[
                    ChatCompletionMessageFunctionToolCallParam(
                        id=call.id,
                        type="function",
                        function={"name": call.name, "arguments": json.dumps(call.arguments)},
                    )
                    for call in message.tool_calls
                ],
            )
        case "assistant":
            return ChatCompletionAssistantMessageParam(role="assistant", content=message.content)
        case "tool":
            return ChatCompletionToolMessageParam(
                role="tool", content=message.content, tool_call_id=message.tool_call_id or ""
            )


def _tool(spec: FunctionSpec) -> ChatCompletionFunctionToolParam:
    function = FunctionDefinition(name=spec.name, parameters=dict(spec.parameters))
    if spec.description:
        function["description"] = spec.description
    return ChatCompletionFunctionToolParam(type="function", function=function)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _UnparsableCall(ValueError):
    """A tool call that cannot be returned; the message says why (the adapter adds where)."""


def _arguments(raw: str | None, name: str, call_id: str) -> dict[str, JsonValue]:
    if raw is None or not raw.strip():
        return {}
    what = f"the arguments of call {call_id!r} to {name!r}"
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except ValueError as exc:
        raise _UnparsableCall(f"{what} are not valid JSON ({exc}): {_shorten(raw)!r}") from exc
    if not isinstance(value, dict):
        raise _UnparsableCall(
            f"{what} are a JSON {type(value).__name__}, not an object: {_shorten(raw)!r}"
        )
    return value


def _tool_calls(
    message: ChatCompletionMessage, offered: Sequence[FunctionSpec]
) -> tuple[ToolCall, ...]:
    names = {spec.name for spec in offered}
    calls: list[ToolCall] = []
    for index, call in enumerate(message.tool_calls or ()):
        call_id = getattr(call, "id", None) or f"call_{index}"
        if call.type != "function":
            raise _UnparsableCall(f"call {call_id!r} is a {call.type!r} tool call, not a function")
        name = call.function.name
        if name not in names:
            raise _UnparsableCall(
                f"call {call_id!r} names {name!r}, a function not offered "
                f"(offered: {', '.join(sorted(names)) or 'none'})"
            )
        arguments = _arguments(call.function.arguments, name, call_id)
        try:
            calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
        except ValidationError as exc:
            raise _UnparsableCall(f"call {call_id!r} to {name!r} is malformed: {exc}") from exc
    return tuple(calls)


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
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        tools: Sequence[FunctionSpec] | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> Completion:
        """The model's answer to ``messages``; ``LLMError`` when it cannot answer.

        ``tools`` and ``tool_choice`` are sent only when functions are offered (the API
        refuses a ``tool_choice`` without ``tools``).
        """
        where = self.base_url or "the OpenAI API"
        offered = tuple(tools or ())
        start = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[_message(m) for m in messages],
                max_tokens=max_tokens,
                temperature=temperature,
                tools=[_tool(t) for t in offered] if offered else openai.omit,
                tool_choice=tool_choice if offered and tool_choice else openai.omit,
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
        try:
            tool_calls = _tool_calls(choice.message, offered)
        except _UnparsableCall as exc:
            raise LLMError(
                f"{where} returned an unusable tool call for model {self.model!r} "
                f"(finish_reason={choice.finish_reason}): {exc}"
            ) from exc
        text = choice.message.content
        if text is None and not tool_calls:
            refusal = getattr(choice.message, "refusal", None)
            why = f"refused: {refusal}" if refusal else f"finish_reason={choice.finish_reason}"
            raise LLMError(f"{where} returned no text for model {self.model!r} ({why})")
        text = text or ""
        usage = response.usage
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        if prompt_tokens is None:
            prompt_tokens = estimate_prompt_tokens(messages, offered)
        if completion_tokens is None:
            completion_tokens = estimate_answer_tokens(text, tool_calls)
        return Completion(
            text=text,
            model=response.model or self.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=latency_ms,
            tool_calls=tool_calls,
        )

    def close(self) -> None:
        """Close the HTTP client, when this adapter made it."""
        if self._owns_client:
            self._client.close()
