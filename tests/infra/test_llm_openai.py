"""The OpenAI chat adapter through the real ``openai`` client, against a local scripted server."""

import socket

import pytest

pytest.importorskip(
    "openai", reason="the openai extra is not installed: pip install selfeng[openai]"
)

from selfeng.core.llm import LLMError, LLMNotConfigured, estimate_tokens
from selfeng.infra.llm_openai import DEFAULT_MODEL, OpenAIChat, describe_llm_setup
from selfeng.schemas.learning import ChatMessage
from tests.llm_server import Reply, ScriptedLLMServer

pytest_plugins = ["tests.llm_server"]

PROMPT = (
    ChatMessage(role="system", content="You write Python tools."),
    ChatMessage(role="user", content="Reverse a string, please."),
)


def test_a_reply_comes_back_with_model_tokens_and_latency(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply("  def reverse(s):\n    return s[::-1]\n", delay_s=0.05))
    completion = llm_server.llm().complete(PROMPT, max_tokens=200)
    assert completion.text == "  def reverse(s):\n    return s[::-1]\n"  # nothing stripped
    assert completion.model == "scripted-model"
    assert completion.prompt_tokens == 8  # words of the prompt, as the server counts them
    assert completion.completion_tokens == 4
    assert completion.total_tokens == 12
    assert 50.0 <= completion.latency_ms < 5_000.0


def test_the_request_carries_the_messages_and_limits(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("ok", Reply("fine", prompt_tokens=70, completion_tokens=3, model="m-0613"))
    llm = llm_server.llm(model="gpt-test")
    llm.complete(PROMPT, max_tokens=123, temperature=0.5)
    second = llm.complete([ChatMessage(role="assistant", content="hi")], max_tokens=7)
    first, other = llm_server.requests
    assert first["model"] == "gpt-test"
    assert first["messages"] == [
        {"role": "system", "content": "You write Python tools."},
        {"role": "user", "content": "Reverse a string, please."},
    ]
    assert first["max_tokens"] == 123
    assert first["temperature"] == 0.5
    assert other["messages"] == [{"role": "assistant", "content": "hi"}]
    assert other["max_tokens"] == 7
    assert other["temperature"] == 0.0
    assert (second.text, second.model, second.prompt_tokens, second.completion_tokens) == (
        "fine",
        "m-0613",
        70,
        3,
    )


def test_missing_usage_is_estimated(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply("x" * 40, usage=False))
    completion = llm_server.llm().complete(PROMPT, max_tokens=50)
    assert completion.completion_tokens == estimate_tokens("x" * 40)
    assert completion.prompt_tokens == estimate_tokens(
        "You write Python tools.\nReverse a string, please."
    )


@pytest.mark.parametrize(
    ("reply", "pattern"),
    [
        (Reply("model overloaded", status=500), r"HTTP 500: .*model overloaded"),
        (Reply("rate limit reached", status=429), r"HTTP 429: .*rate limit reached"),
        (Reply("bad key", status=401), r"HTTP 401: .*bad key"),
    ],
)
def test_a_refusal_names_the_status(
    llm_server: ScriptedLLMServer, reply: Reply, pattern: str
) -> None:
    llm_server.script(reply)
    with pytest.raises(LLMError, match=pattern) as info:
        llm_server.llm().complete(PROMPT, max_tokens=10)
    assert llm_server.base_url in str(info.value)
    assert "'scripted-model'" in str(info.value)


def test_calling_more_often_than_scripted_fails_clearly(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("only one")
    llm = llm_server.llm()
    assert llm.complete(PROMPT, max_tokens=10).text == "only one"
    assert llm_server.pending == 0
    with pytest.raises(LLMError, match=r"HTTP 500: .*no scripted reply left"):
        llm.complete(PROMPT, max_tokens=10)
    assert len(llm_server.requests) == 2


def test_an_answer_without_text_is_an_error(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply("unused", choices=False), Reply(None))
    llm = llm_server.llm()
    with pytest.raises(LLMError, match="returned no choices"):
        llm.complete(PROMPT, max_tokens=10)
    with pytest.raises(LLMError, match=r"returned no text .*finish_reason=stop"):
        llm.complete(PROMPT, max_tokens=10)


def test_an_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    llm = OpenAIChat("m", base_url=url, env={}, max_retries=0, timeout=5)
    with pytest.raises(LLMError, match=rf"cannot reach the chat endpoint at {url}"):
        llm.complete(PROMPT, max_tokens=10)


def test_a_slow_server_times_out(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply("too late", delay_s=2.0))
    with pytest.raises(LLMError, match=r"did not answer within 0\.2s"):
        llm_server.llm(timeout=0.2).complete(PROMPT, max_tokens=10)


def test_from_env(llm_server: ScriptedLLMServer) -> None:
    assert OpenAIChat.from_env({}) is None
    assert OpenAIChat.from_env({"OPENAI_MODEL": "m"}) is None  # a model alone is no endpoint
    assert OpenAIChat.from_env({**llm_server.env(), "SELFENG_LLM": "off"}) is None
    assert OpenAIChat.from_env({"OPENAI_API_KEY": "sk", "SELFENG_LLM": "None"}) is None
    llm = OpenAIChat.from_env(llm_server.env())
    assert llm is not None
    assert llm.name == "openai:scripted-model"
    assert llm.base_url == llm_server.base_url
    llm_server.script("from env")
    assert llm.complete(PROMPT, max_tokens=5).text == "from env"
    assert llm_server.requests[0]["model"] == "scripted-model"
    llm.close()


def test_a_local_server_needs_no_key(llm_server: ScriptedLLMServer) -> None:
    llm = OpenAIChat.from_env({"OPENAI_BASE_URL": llm_server.base_url})
    assert llm is not None
    assert llm.model == DEFAULT_MODEL
    llm_server.script("keyless")
    assert llm.complete(PROMPT, max_tokens=5).text == "keyless"


def test_name_and_overrides() -> None:
    env = {"OPENAI_API_KEY": "sk", "OPENAI_MODEL": "from-env", "OPENAI_BASE_URL": "http://x/v1"}
    assert OpenAIChat(env=env).name == "openai:from-env"
    assert OpenAIChat("gpt-4o", env=env).name == "openai:gpt-4o"
    assert OpenAIChat(env={"OPENAI_API_KEY": "sk"}).name == f"openai:{DEFAULT_MODEL}"
    assert OpenAIChat(base_url="http://y/v1", env=env).base_url == "http://y/v1"


def test_without_key_or_server_it_says_what_to_set() -> None:
    with pytest.raises(LLMNotConfigured, match="OPENAI_API_KEY") as info:
        OpenAIChat("m", env={})
    assert str(info.value) == describe_llm_setup()
    assert describe_llm_setup().startswith("no LLM configured: set OPENAI_API_KEY")
