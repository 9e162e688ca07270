"""Conformance with the official `openai` Python SDK: what an application using the SDK sees
when it points base_url at Warden."""

import openai
import pytest

from conftest import WARDEN_KEY


def client(gateway, key=WARDEN_KEY):
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0, timeout=30)


def test_non_stream_completion(gateway):
    reply = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello sdk"}]
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "echo: hello sdk"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_request_id_header_is_exposed(gateway):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "id?"}]
    )
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.parse().choices[0].message.content == "echo: id?"


def test_stream_completion_with_usage(gateway):
    stream = client(gateway).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "stream me please mock:chunks=5"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please mock:chunks=5"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_stream_tool_call(gateway):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    stream = client(gateway).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "weather mock:tool=get_weather"}],
        tools=tools,
        stream=True,
    )
    calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather"
    assert "".join(tc.function.arguments or "" for tc in calls) == "{}"


def test_models_list(gateway):
    ids = {m.id for m in client(gateway).models.list()}
    assert {"gpt-4o", "gpt-4o-mini", "o3", "o3-mini"} <= ids


def test_unknown_warden_key_is_authentication_error(gateway):
    with pytest.raises(openai.AuthenticationError) as err:
        client(gateway, key="wdn_not_a_key").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.status_code == 401
    assert err.value.code == "invalid_api_key"
    assert "wdn_not_a_key" not in str(err.value)


def test_unknown_model_is_not_found_error(gateway):
    with pytest.raises(openai.NotFoundError) as err:
        client(gateway).chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "model_not_found"
    assert err.value.param == "model"


def test_provider_rate_limit_is_rate_limit_error(gateway):
    with pytest.raises(openai.RateLimitError) as err:
        client(gateway).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "mock:status=429"}]
        )
    assert err.value.status_code == 429
    assert err.value.code == "rate_limit_exceeded"


def test_stream_broken_off_by_provider_raises(gateway):
    stream = client(gateway).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "a b c d mock:chunks=4 mock:drop_after=2"}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError) as err:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 2
    assert "upstream" in str(err.value).lower() or "provider" in str(err.value).lower()


def test_several_choices_from_a_provider_that_answers_one_is_a_clear_error(gateway):
    # Anthropic answers one choice a request: asking it for two must not come back as one choice
    # with a 200.
    c = client(gateway)
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="claude-4-sonnet", n=2, messages=[{"role": "user", "content": "hi"}])
    assert "'n' must be 1" in err.value.message
    one = c.chat.completions.create(model="claude-4-sonnet", n=1, messages=[{"role": "user", "content": "hi"}])
    assert len(one.choices) == 1 and one.choices[0].message.content == "echo: hi"
    two = c.chat.completions.create(model="gpt-4o", n=2, messages=[{"role": "user", "content": "hi"}])
    assert [ch.index for ch in two.choices] == [0, 1]


def test_several_choices_from_gemini_are_its_candidates(gateway):
    # `n` goes to Gemini as candidateCount; each candidate comes back as a choice, whole and
    # streamed.
    c = client(gateway)
    ask = dict(model="gemini-2.0-flash", n=3, messages=[{"role": "user", "content": "hi there mock:chunks=4"}])
    whole = c.chat.completions.create(**ask)
    assert [ch.index for ch in whole.choices] == [0, 1, 2]
    assert {ch.message.content for ch in whole.choices} == {"echo: hi there mock:chunks=4"}
    assert {ch.finish_reason for ch in whole.choices} == {"stop"}
    texts, finishes = {}, {}
    for chunk in c.chat.completions.create(stream=True, **ask):
        for ch in chunk.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
            if ch.finish_reason:
                finishes.setdefault(ch.index, []).append(ch.finish_reason)
    assert texts == {i: "echo: hi there mock:chunks=4" for i in range(3)}
    assert finishes == {i: ["stop"] for i in range(3)}
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="gemini-2.0-flash", n=9, messages=[{"role": "user", "content": "hi"}])
    assert "'n' must be between 1 and 8" in err.value.message
