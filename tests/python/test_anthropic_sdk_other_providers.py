"""The anthropic SDK against models of other providers: `/v1/messages` with a GPT or Gemini
alias (or a route group) is carried over the chat path and answered as an Anthropic message or
event stream — text, tool use, tool results, usage, stop reasons, errors in Anthropic's shape."""

import anthropic
import pytest

from conftest import GUARDED_KEY, WARDEN_KEY

WEATHER = {"name": "get_weather", "description": "Current weather",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def claude(gateway, key=WARDEN_KEY):
    return anthropic.Anthropic(base_url=str(gateway), api_key=key, max_retries=0, timeout=30)


@pytest.mark.parametrize("model", ["gpt-4o", "gemini-2.0-flash", "auto"])
def test_text_whole_and_streamed(gateway, model):
    c = claude(gateway)
    ask = dict(model=model, max_tokens=64, system="be brief",
               messages=[{"role": "user", "content": "hello there mock:chunks=5"}])
    msg = c.messages.create(**ask)
    assert msg.type == "message" and msg.role == "assistant" and msg.model == model
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "echo: hello there mock:chunks=5"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    with c.messages.stream(**ask) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "echo: hello there mock:chunks=5"
    assert final.stop_reason == "end_turn" and final.content[0].text == text
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["gpt-4o", "gemini-2.0-flash"])
def test_tool_use_and_its_result(gateway, model):
    c = claude(gateway)
    ask = dict(model=model, max_tokens=64, tools=[WEATHER], tool_choice={"type": "any"},
               messages=[{"role": "user", "content": "weather in Paris? mock:tool=get_weather"}])
    msg = c.messages.create(**ask)
    use = [b for b in msg.content if b.type == "tool_use"]
    assert msg.stop_reason == "tool_use" and use and use[0].name == "get_weather"
    assert isinstance(use[0].input, dict) and use[0].id
    with c.messages.stream(**ask) as s:
        final = s.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use" and streamed[0].name == "get_weather"
    # The result goes back as a tool_result block; the model answers from it.
    follow = c.messages.create(model=model, max_tokens=64, tools=[WEATHER], messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": use[0].id, "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use[0].id, "content": "15C and sunny"},
                                      {"type": "text", "text": "thanks"}]},
    ])
    assert follow.content[0].text == "echo: thanks"


def test_guardrails_and_errors_in_anthropics_shape(gateway):
    # PII goes to the other provider as placeholders and comes back restored.
    c = claude(gateway, GUARDED_KEY)
    prompt = "Reply to jane.doe@example.com today mock:chunks=9"
    msg = c.messages.create(model="gpt-4o", max_tokens=64, messages=[{"role": "user", "content": prompt}])
    assert msg.content[0].text == f"echo: {prompt}"
    with c.messages.stream(model="gemini-2.0-flash", max_tokens=64, messages=[{"role": "user", "content": prompt}]) as s:
        assert "".join(s.text_stream) == f"echo: {prompt}"
    # The answer is read by the response guardrails on its way back (a made-up token redacted).
    leak = "Use ghp_0123456789abcdefghijklmnopqrstuvwxyzAB to deploy."
    knobs = f"mock:reply_hex={leak.encode().hex()} mock:chunks=25"
    with c.messages.stream(model="gpt-4o", max_tokens=64, messages=[{"role": "user", "content": knobs}]) as s:
        assert "".join(s.text_stream) == "Use [SECRET_1] to deploy."
    # What only Anthropic runs is refused, in Anthropic's error shape.
    with pytest.raises(anthropic.BadRequestError) as err:
        claude(gateway).messages.create(model="gpt-4o", max_tokens=16, messages=[{"role": "user", "content": "hi"}],
                                        tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert err.value.body["type"] == "error" and "server tools" in str(err.value)
    # A provider's failure is an Anthropic error too.
    with pytest.raises(anthropic.RateLimitError):
        claude(gateway).messages.create(model="gpt-4o", max_tokens=16,
                                        messages=[{"role": "user", "content": "hi mock:status=429"}])


def test_a_cached_answer_comes_back_as_a_message_whole_and_streamed(gateway):
    # The answer is kept as the provider gave it; a hit is written as an Anthropic message, and
    # a streamed request gets it as an event stream.
    from conftest import CACHED_KEY

    c = claude(gateway, CACHED_KEY)
    ask = dict(model="gpt-4o", max_tokens=64, messages=[{"role": "user", "content": "cache me please mock:chunks=4"}])
    first = c.messages.with_raw_response.create(**ask)
    assert first.headers["x-warden-cache"] == "miss"
    again = c.messages.with_raw_response.create(**ask)
    assert again.headers["x-warden-cache"] == "hit"
    assert again.parse().content[0].text == first.parse().content[0].text == "echo: cache me please mock:chunks=4"
    with c.messages.stream(**ask) as s:
        assert "".join(s.text_stream) == "echo: cache me please mock:chunks=4"
        assert s.response.headers["x-warden-cache"] == "hit"
