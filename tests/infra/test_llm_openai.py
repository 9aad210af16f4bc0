"""The OpenAI chat adapter through the real ``openai`` client, against a local scripted server."""

import json
import socket
from typing import Any

import pytest

pytest.importorskip(
    "openai", reason="the openai extra is not installed: pip install selfeng[openai]"
)

from selfeng.core.llm import (
    FunctionSpec,
    LLMError,
    LLMNotConfigured,
    ToolCall,
    estimate_prompt_tokens,
    estimate_tokens,
)
from selfeng.infra.llm.openai import DEFAULT_MODEL, OpenAIChat, describe_llm_setup
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
    assert "tools" not in first
    assert "tool_choice" not in first
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


# -- tool calling ----------------------------------------------------------------------------

ADD = FunctionSpec(
    name="add_numbers",
    description="Add two numbers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
)
UPPER = FunctionSpec(name="to-upper", description="Upper-case a text.")
ASK = (ChatMessage(role="user", content="What is 2 plus 3?"),)


def test_a_tool_call_round_trips_through_the_client(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply(None, tool_calls=[("add_numbers", {"a": 2, "b": 3})]))
    completion = llm_server.llm().complete(ASK, max_tokens=50, tools=[ADD, UPPER])
    assert completion.tool_calls == (
        ToolCall(id="call_0", name="add_numbers", arguments={"a": 2, "b": 3}),
    )
    assert completion.text == ""
    assert completion.completion_tokens == 4  # words of the arguments, as the server counts
    body = llm_server.requests[0]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add_numbers",
                "description": "Add two numbers.",
                "parameters": ADD.parameters,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "to-upper",
                "description": "Upper-case a text.",
                "parameters": {"type": "object", "properties": {}},
            },
        },
    ]
    assert "tool_choice" not in body  # the server's default


@pytest.mark.parametrize("choice", ["auto", "required", "none"])
def test_tool_choice_reaches_the_server(llm_server: ScriptedLLMServer, choice: Any) -> None:
    llm_server.script("sure")
    llm_server.llm().complete(ASK, max_tokens=5, tools=[ADD], tool_choice=choice)
    assert llm_server.requests[0]["tool_choice"] == choice


def test_a_tool_choice_without_tools_is_not_sent(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("five", "five")
    llm = llm_server.llm()
    llm.complete(ASK, max_tokens=5, tool_choice="required")
    llm.complete(ASK, max_tokens=5, tools=[], tool_choice="auto")
    for body in llm_server.requests:
        assert "tools" not in body
        assert "tool_choice" not in body


def test_parallel_calls_and_text_come_back_in_order(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(
        Reply(
            "Adding, then shouting.",
            tool_calls=[("add_numbers", {"a": 1.5, "b": -2}), ("to-upper", {}, "call_xyz")],
        )
    )
    completion = llm_server.llm().complete(ASK, max_tokens=50, tools=[ADD, UPPER])
    assert completion.text == "Adding, then shouting."
    assert [(c.id, c.name, c.arguments) for c in completion.tool_calls] == [
        ("call_0", "add_numbers", {"a": 1.5, "b": -2}),
        ("call_xyz", "to-upper", {}),
    ]


def test_a_tool_calling_conversation_replays(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply(None, tool_calls=[("add_numbers", {"a": 2, "b": 3})]), "It is 5.")
    llm = llm_server.llm()
    first = llm.complete(ASK, max_tokens=50, tools=[ADD])
    (call,) = first.tool_calls
    conversation = [
        *ASK,
        ChatMessage(role="assistant", content=first.text, tool_calls=first.tool_calls),
        ChatMessage(role="tool", content="5", tool_call_id=call.id),
    ]
    second = llm.complete(conversation, max_tokens=50, tools=[ADD])
    assert (second.text, second.tool_calls) == ("It is 5.", ())
    assert llm_server.requests[1]["messages"] == [
        {"role": "user", "content": "What is 2 plus 3?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "add_numbers", "arguments": '{"a": 2, "b": 3}'},
                }
            ],
        },
        {"role": "tool", "content": "5", "tool_call_id": "call_0"},
    ]


def test_a_server_that_ignores_tools_still_answers_text(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("2 plus 3 is 5.")
    completion = llm_server.llm().complete(ASK, max_tokens=50, tools=[ADD], tool_choice="required")
    assert (completion.text, completion.tool_calls) == ("2 plus 3 is 5.", ())


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ('{"a": 2, "b": ', r"are not valid JSON \(Expecting value.*\): '\{\"a\": 2, \"b\": '"),
        ("{'a': 2}", r"are not valid JSON"),
        ('{"a": NaN}', r"are not valid JSON \(NaN is not JSON\)"),
        ("[2, 3]", r"are a JSON list, not an object: '\[2, 3\]'"),
        ('"2 and 3"', r"are a JSON str, not an object"),
        ("5", r"are a JSON int, not an object"),
    ],
)
def test_malformed_arguments_are_an_llm_error(
    llm_server: ScriptedLLMServer, raw: str, pattern: str
) -> None:
    llm_server.script(Reply(None, tool_calls=[("add_numbers", raw)]))
    with pytest.raises(LLMError, match=pattern) as info:
        llm_server.llm().complete(ASK, max_tokens=50, tools=[ADD])
    message = str(info.value)
    assert message.startswith(f"{llm_server.base_url} returned an unusable tool call")
    assert "the arguments of call 'call_0' to 'add_numbers'" in message
    assert "finish_reason=tool_calls" in message


def test_arguments_cut_off_by_the_token_limit_say_so(llm_server: ScriptedLLMServer) -> None:
    long = json.dumps({"a": 2, "b": "x" * 500})[:300]
    llm_server.script(Reply(None, tool_calls=[("add_numbers", long)], finish_reason="length"))
    with pytest.raises(LLMError, match=r"finish_reason=length.*not valid JSON") as info:
        llm_server.llm().complete(ASK, max_tokens=50, tools=[ADD])
    assert "... (300 characters)" in str(info.value)  # the raw text, shortened


@pytest.mark.parametrize("tools", [[ADD], None])
def test_a_call_of_a_function_not_offered_is_an_llm_error(
    llm_server: ScriptedLLMServer, tools: list[FunctionSpec] | None
) -> None:
    llm_server.script(Reply(None, tool_calls=[("delete_files", {"path": "/"})]))
    offered = "add_numbers" if tools else "none"
    with pytest.raises(
        LLMError, match=rf"'delete_files', a function not offered \(offered: {offered}\)"
    ):
        llm_server.llm().complete(ASK, max_tokens=50, tools=tools)


def test_empty_arguments_are_no_arguments(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply(None, tool_calls=[("to-upper", ""), ("to-upper", "  ")]))
    completion = llm_server.llm().complete(ASK, max_tokens=50, tools=[UPPER])
    assert [c.arguments for c in completion.tool_calls] == [{}, {}]


def test_a_call_without_id_is_numbered_and_a_custom_call_refused(
    llm_server: ScriptedLLMServer,
) -> None:
    no_id = {"type": "function", "function": {"name": "to-upper", "arguments": "{}"}}
    custom = {"id": "c1", "type": "custom", "custom": {"name": "to-upper", "input": "hi"}}
    llm_server.script(
        Reply(None, message={"role": "assistant", "content": None, "tool_calls": [no_id]}),
        Reply(None, message={"role": "assistant", "content": None, "tool_calls": [custom]}),
    )
    llm = llm_server.llm()
    assert llm.complete(ASK, max_tokens=50, tools=[UPPER]).tool_calls == (
        ToolCall(id="call_0", name="to-upper"),
    )
    with pytest.raises(LLMError, match="call 'c1' is a 'custom' tool call, not a function"):
        llm.complete(ASK, max_tokens=50, tools=[UPPER])


def test_missing_usage_counts_the_tools_and_calls(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Reply(None, tool_calls=[("add_numbers", {"a": 2, "b": 3})], usage=False))
    completion = llm_server.llm().complete(ASK, max_tokens=50, tools=[ADD])
    assert completion.prompt_tokens == estimate_prompt_tokens(ASK, [ADD])
    assert completion.prompt_tokens > estimate_prompt_tokens(ASK)
    assert completion.completion_tokens == estimate_tokens(
        '[{"id": "call_0", "name": "add_numbers", "arguments": {"a": 2, "b": 3}}]'
    )


# -- the scripted server's responder -------------------------------------------------------


def _oracle(body: dict[str, Any]) -> Reply:
    """Answers from ground truth: calls the first function offered with the question's
    numbers, or, once a tool result is in the conversation, states it."""
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        return Reply(f"The answer is {messages[-1]['content']}.")
    numbers = [int(w) for w in messages[-1]["content"].rstrip("?").split() if w.isdigit()]
    name = body["tools"][0]["function"]["name"]
    return Reply(None, tool_calls=[(name, dict(zip("ab", numbers, strict=True)))])


def test_a_responder_answers_from_the_request(llm_server: ScriptedLLMServer) -> None:
    llm_server.respond(_oracle)
    llm = llm_server.llm()
    asked = [ChatMessage(role="user", content="What is 40 plus 2?")]
    first = llm.complete(asked, max_tokens=50, tools=[ADD])
    assert first.tool_calls == (
        ToolCall(id="call_0", name="add_numbers", arguments={"a": 40, "b": 2}),
    )
    (call,) = first.tool_calls
    asked += [
        ChatMessage(role="assistant", content="", tool_calls=first.tool_calls),
        ChatMessage(role="tool", content="42", tool_call_id=call.id),
    ]
    assert llm.complete(asked, max_tokens=50, tools=[ADD]).text == "The answer is 42."
    assert len(llm_server.requests) == 2
    assert llm_server.pending == 0


def test_scripted_replies_come_before_the_responder(llm_server: ScriptedLLMServer) -> None:
    llm_server.respond(lambda body: f"computed for {body['model']}")
    llm_server.script(Reply("overloaded", status=503), "scripted")
    llm = llm_server.llm()
    with pytest.raises(LLMError, match="HTTP 503"):
        llm.complete(ASK, max_tokens=5)
    assert llm.complete(ASK, max_tokens=5).text == "scripted"
    assert llm.complete(ASK, max_tokens=5).text == "computed for scripted-model"
    llm_server.respond(None)
    with pytest.raises(LLMError, match="no scripted reply left"):
        llm.complete(ASK, max_tokens=5)


def test_a_failing_responder_is_a_server_error(llm_server: ScriptedLLMServer) -> None:
    llm_server.respond(lambda body: body["tools"][0])  # no tools offered: KeyError
    with pytest.raises(LLMError, match=r"HTTP 500: .*the responder failed: KeyError: 'tools'"):
        llm_server.llm().complete(ASK, max_tokens=5)
