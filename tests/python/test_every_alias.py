"""Every alias of every provider through Warden with the official openai SDK: answers, streams,
tool calls and errors look the same whichever provider serves them."""

import json

import openai
import pytest

from conftest import ALIASES, REVOKED_WARDEN_KEY, WARDEN_KEY

TOOLS = [{
    "type": "function",
    "function": {"name": "get_weather", "description": "Current weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}]


def client(gateway, key=WARDEN_KEY):
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0, timeout=30)


@pytest.mark.parametrize("alias", ALIASES)
def test_non_stream(gateway, alias):
    reply = client(gateway).chat.completions.create(
        model=alias, messages=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": f"hi {alias}"}],
        max_tokens=64, temperature=0.2,
    )
    assert reply.choices[0].message.content == f"echo: hi {alias}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens == 3
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


@pytest.mark.parametrize("alias", ALIASES)
def test_stream_with_usage(gateway, alias):
    chunks = list(client(gateway).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": "one two three mock:chunks=4"}],
        stream=True, stream_options={"include_usage": True},
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three mock:chunks=4"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5


@pytest.mark.parametrize("alias", ALIASES)
def test_tool_call(gateway, alias):
    reply = client(gateway).chat.completions.create(
        model=alias, tools=TOOLS, messages=[{"role": "user", "content": "weather? mock:tool=get_weather"}],
    )
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {}
    assert call.id
    assert reply.choices[0].finish_reason == "tool_calls"
    # The conversation continues with the tool's result, translated back for each provider.
    follow = client(gateway).chat.completions.create(
        model=alias, tools=TOOLS,
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "15C"},
            {"role": "user", "content": "thanks"},
        ],
    )
    assert follow.choices[0].message.content == "echo: thanks"


@pytest.mark.parametrize("alias", ALIASES)
def test_stream_tool_call(gateway, alias):
    chunks = list(client(gateway).chat.completions.create(
        model=alias, tools=TOOLS, stream=True, messages=[{"role": "user", "content": "mock:tool=get_weather"}],
    ))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].index == 0 and calls[0].id and calls[0].function.name == "get_weather"
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


@pytest.mark.parametrize("alias", ALIASES)
def test_errors_map_to_sdk_exceptions(gateway, alias):
    messages = lambda text: [{"role": "user", "content": text}]  # noqa: E731
    with pytest.raises(openai.AuthenticationError) as err:
        client(gateway, key=REVOKED_WARDEN_KEY).chat.completions.create(model=alias, messages=messages("x"))
    assert "sk-sdk-revoked" not in str(err.value) and "rejected the project's provider key" in str(err.value)
    with pytest.raises(openai.RateLimitError):
        client(gateway).chat.completions.create(model=alias, messages=messages("mock:status=429"))
    with pytest.raises(openai.InternalServerError):
        client(gateway).chat.completions.create(model=alias, messages=messages("mock:status=500"))


def test_anthropic_overloaded_is_a_retryable_503(gateway):
    with pytest.raises(openai.InternalServerError) as err:
        client(gateway).chat.completions.create(
            model="claude-4-sonnet", messages=[{"role": "user", "content": "mock:status=529"}]
        )
    assert err.value.status_code == 503
