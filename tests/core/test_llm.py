"""The LLM port's token estimates, with and without tool calling."""

from selfeng.core.llm import (
    ChatMessage,
    FunctionSpec,
    ToolCall,
    estimate_answer_tokens,
    estimate_prompt_tokens,
    estimate_tokens,
)

PROMPT = (
    ChatMessage(role="system", content="You plan requests."),
    ChatMessage(role="user", content="What is 2 plus 3?"),
)
CALL = ToolCall(id="call_0", name="add_numbers", arguments={"a": 2, "b": 3})


def test_a_plain_prompt_is_estimated_as_before() -> None:
    assert estimate_prompt_tokens(PROMPT) == estimate_tokens(
        "You plan requests.\nWhat is 2 plus 3?"
    )
    assert estimate_prompt_tokens(PROMPT, []) == estimate_prompt_tokens(PROMPT)
    assert estimate_answer_tokens("five") == estimate_tokens("five")


def test_functions_and_replayed_calls_add_to_the_estimate() -> None:
    add = FunctionSpec(name="add_numbers", description="Add two numbers. " * 20)
    with_tools = estimate_prompt_tokens(PROMPT, [add])
    assert with_tools > estimate_prompt_tokens(PROMPT) + 80  # the description is 340 characters
    replayed = (*PROMPT, ChatMessage(role="assistant", content="", tool_calls=(CALL,)))
    assert estimate_prompt_tokens(replayed) > estimate_prompt_tokens(PROMPT) + 10
    assert estimate_answer_tokens("", [CALL]) > estimate_answer_tokens("")
