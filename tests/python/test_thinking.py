"""Reasoning and extended thinking through Warden: the anthropic SDK with thinking on Anthropic's
own route (signed thinking blocks carried across a tool-use turn), and the openai SDK's
`reasoning_effort` on a Claude alias — reasoning as `reasoning_content`, the signed blocks as
`thinking_blocks`, sent back on the next turn as Anthropic requires; withheld where response
guardrails read the answer."""

import anthropic
import openai
import pytest

from conftest import GUARDED_KEY, WARDEN_KEY

WEATHER = {"name": "get_weather", "description": "Current weather",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def claude(gateway):
    return anthropic.Anthropic(base_url=str(gateway), api_key=WARDEN_KEY, max_retries=0, timeout=30)


def oai(gateway, key=WARDEN_KEY):
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0, timeout=30)


def test_anthropic_sdk_thinking_across_a_tool_turn(gateway):
    c = claude(gateway)
    thinking = {"type": "enabled", "budget_tokens": 2048}
    first = c.messages.create(model="claude-4-sonnet", max_tokens=4096, thinking=thinking, tools=[WEATHER],
                              messages=[{"role": "user", "content": "weather? mock:tool=get_weather"}])
    assert first.content[0].type == "thinking" and first.content[0].signature
    assert first.content[1].type == "tool_use"
    turn = [{"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[1].id,
                                          "content": "sunny"}]}]
    second = c.messages.create(model="claude-4-sonnet", max_tokens=4096, thinking=thinking, tools=[WEATHER],
                               messages=turn)
    assert second.content[-1].text.startswith("echo: ")
    # Without its thinking block the turn is refused, as Anthropic refuses it.
    turn[1]["content"] = turn[1]["content"][1:]
    with pytest.raises(anthropic.BadRequestError):
        c.messages.create(model="claude-4-sonnet", max_tokens=4096, thinking=thinking, tools=[WEATHER],
                          messages=turn)


def test_anthropic_sdk_thinking_stream(gateway):
    with claude(gateway).messages.stream(
        model="claude-4-sonnet", max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "one two"}],
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds
    assert final.content[0].type == "thinking" and final.content[0].thinking == "Thinking about: one two"
    assert final.content[1].text == "echo: one two"


def test_reasoning_effort_on_a_claude_alias(gateway):
    c = oai(gateway)
    r = c.chat.completions.create(model="claude-4-sonnet", reasoning_effort="low", tools=OPENAI_TOOLS,
                                  temperature=0.3, messages=[{"role": "user", "content": "weather? mock:tool=get_weather"}])
    m = r.choices[0].message
    extra = m.model_extra
    assert extra["reasoning_content"] == "Thinking about: weather? mock:tool=get_weather"
    block = extra["thinking_blocks"][0]
    assert block["type"] == "thinking" and block["signature"]
    call = m.tool_calls[0]
    # The next turn carries the signed block back; Anthropic (the mock) checks the signature.
    follow = c.chat.completions.create(model="claude-4-sonnet", reasoning_effort="low", tools=OPENAI_TOOLS, messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()], "thinking_blocks": [block]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ])
    assert follow.choices[0].message.content.startswith("echo: ")
    tampered = dict(block, thinking="something else")
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="claude-4-sonnet", reasoning_effort="low", tools=OPENAI_TOOLS, messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()], "thinking_blocks": [tampered]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ])


def test_reasoning_streams_with_its_signature(gateway):
    chunks = list(oai(gateway).chat.completions.create(
        model="claude-4-sonnet", reasoning_effort="medium", stream=True,
        messages=[{"role": "user", "content": "one two three"}]))
    deltas = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    assert reasoning == "Thinking about: one two three"
    blocks = [b for d in deltas for b in (d.get("thinking_blocks") or [])]
    assert len(blocks) == 1 and blocks[0]["thinking"] == reasoning and blocks[0]["signature"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"


def test_reasoning_limits_and_conflicts_are_clear_errors(gateway):
    c = oai(gateway)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="claude-4-sonnet", reasoning_effort="high", max_completion_tokens=500,
                                  messages=[{"role": "user", "content": "hi"}])
    assert "1024" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="claude-4-sonnet", reasoning_effort="low", tools=OPENAI_TOOLS,
                                  tool_choice="required", messages=[{"role": "user", "content": "hi"}])
    assert "tool_choice" in e.value.message


def test_reasoning_is_withheld_where_response_guardrails_read_the_answer(gateway):
    r = oai(gateway, GUARDED_KEY).chat.completions.create(
        model="claude-4-sonnet", reasoning_effort="low", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "echo: hi"
    assert "reasoning_content" not in (r.choices[0].message.model_extra or {})


def test_reasoning_effort_on_a_gemini_alias(gateway):
    c = oai(gateway)
    r = c.chat.completions.create(model="gemini-2.0-flash", reasoning_effort="low",
                                  messages=[{"role": "user", "content": "one two"}])
    m = r.choices[0].message
    assert m.content == "echo: one two"
    assert m.model_extra["reasoning_content"] == "Thinking about: one two"
    # Thought tokens are metered as reasoning tokens, inside the completion tokens.
    assert r.usage.completion_tokens_details.reasoning_tokens == 4
    assert r.usage.completion_tokens == 3 + 4
    chunks = list(c.chat.completions.create(model="gemini-2.0-flash", reasoning_effort="low", stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "one two"}]))
    reasoning = "".join((ch.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for ch in chunks if ch.choices)
    assert reasoning == "Thinking about: one two"
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 4


def test_google_genai_sdk_thoughts_on_the_native_route(gateway):
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=WARDEN_KEY, http_options=types.HttpOptions(base_url=str(gateway)))
    r = client.models.generate_content(
        model="gemini-2.0-flash", contents="one two",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True,
                                                                                 thinking_budget=1024)))
    parts = r.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text == "Thinking about: one two"
    assert r.text == "echo: one two"
    assert r.usage_metadata.thoughts_token_count == 4


def test_gemini_3_thought_signatures_go_back_with_their_calls(gateway):
    """Gemini 3 refuses its own function calls sent back without their thought signatures (the
    mock does too): Warden carries each in the tool-call id, through chat (whole and streamed)
    and the Responses API."""
    c = oai(gateway)
    ask = dict(model="gemini-3-pro", tools=OPENAI_TOOLS)
    first = c.chat.completions.create(messages=[{"role": "user", "content": "weather? mock:tool=get_weather"}], **ask)
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and "__ts_" in call.id
    follow = c.chat.completions.create(messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        {"role": "user", "content": "thanks"},
    ], **ask)
    assert follow.choices[0].message.content == "echo: thanks"
    # A client that drops what Warden added to the id gets Gemini's refusal.
    bare = dict(call.model_dump(), id="call_1")
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [bare]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ], **ask)
    assert "thought_signature" in e.value.message
    # Streamed: the id carries it too.
    chunks = list(c.chat.completions.create(
        messages=[{"role": "user", "content": "weather? mock:tool=get_weather"}], stream=True, **ask))
    ids = [t.id for ch in chunks if ch.choices for t in (ch.choices[0].delta.tool_calls or []) if t.id]
    assert ids and "__ts_" in ids[0]
    # The Responses API: the call_id goes back with the function call item.
    r = c.responses.create(model="gemini-3-pro", input="weather? mock:tool=get_weather",
                           tools=[{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}])
    fc = r.output[-1]
    again = c.responses.create(model="gemini-3-pro", input=[
        {"role": "user", "content": "weather?"}, fc.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": fc.call_id, "output": "sunny"},
        {"role": "user", "content": "thanks"}],
        tools=[{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}])
    assert again.output_text == "echo: thanks"
