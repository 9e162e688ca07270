"""`response_format` json_schema (and json_object) honoured for every provider through the
openai SDK: OpenAI-compatible providers get it as is, Gemini as responseJsonSchema, Anthropic as a
forced tool call whose input Warden returns as the message content — whole and streamed. The
JSON is checked against the schema with `jsonschema`, and `client.beta...parse`-style use
(`responses.create` with `text.format`) works the same way."""

import json

import jsonschema
import openai
import pytest

from conftest import WARDEN_KEY

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "number"},
        "conditions": {"type": "string", "enum": ["sunny", "cloudy", "rain"]},
        "hourly": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["city", "temperature_c", "conditions", "hourly"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}
ALIASES = ["gpt-4o", "claude-4-sonnet", "gemini-2.0-flash", "llama-3.3-70b-versatile"]


def client(gateway):
    return openai.OpenAI(base_url=gateway.v1, api_key=WARDEN_KEY, max_retries=0, timeout=30)


@pytest.mark.parametrize("alias", ALIASES)
def test_json_schema_whole(gateway, alias):
    r = client(gateway).chat.completions.create(
        model=alias, response_format=FORMAT, messages=[{"role": "user", "content": "weather in Oslo?"}])
    assert r.choices[0].finish_reason == "stop"
    assert not r.choices[0].message.tool_calls
    jsonschema.validate(json.loads(r.choices[0].message.content), SCHEMA)


@pytest.mark.parametrize("alias", ALIASES)
def test_json_schema_streamed(gateway, alias):
    chunks = list(client(gateway).chat.completions.create(
        model=alias, response_format=FORMAT, stream=True,
        messages=[{"role": "user", "content": "weather in Oslo? mock:chunks=5"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 2, "streamed in pieces"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
    jsonschema.validate(json.loads(text), SCHEMA)


@pytest.mark.parametrize("alias", ALIASES)
def test_json_object(gateway, alias):
    r = client(gateway).chat.completions.create(
        model=alias, response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "answer in JSON"}])
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_sdk_parse_helper_with_a_claude_alias(gateway):
    # The SDK's own structured-output helper, against a provider without native JSON mode.
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str
        temperature_c: float
        hourly: list[int]

    r = client(gateway).chat.completions.parse(
        model="claude-4-sonnet", response_format=Weather,
        messages=[{"role": "user", "content": "weather in Oslo?"}])
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Weather) and parsed.city


@pytest.mark.parametrize("alias", ["claude-4-sonnet", "gemini-2.0-flash"])
def test_responses_text_format(gateway, alias):
    fmt = {"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA, "strict": True}}
    r = client(gateway).responses.create(model=alias, input="weather in Oslo?", text=fmt)
    jsonschema.validate(json.loads(r.output_text), SCHEMA)
    events = list(client(gateway).responses.create(model=alias, input="weather in Oslo?", text=fmt,
                                                   stream=True))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    jsonschema.validate(json.loads(text), SCHEMA)


def test_tools_and_json_together_on_claude(gateway):
    # With tools of its own, the model may call one of them; when it answers, it answers in JSON.
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    r = client(gateway).chat.completions.create(
        model="claude-4-sonnet", response_format=FORMAT, tools=tools,
        messages=[{"role": "user", "content": "weather? mock:tool=get_weather"}])
    assert r.choices[0].finish_reason == "tool_calls"
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
