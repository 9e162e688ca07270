"""The mock provider speaks each provider's real protocol: the official SDKs, pointed straight at
it, parse its answers, streams, tool calls and errors as they would the real APIs'."""

import anthropic
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import REVOKED_KEY

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def claude(mock, key="sk-ant-mock-key"):
    return anthropic.Anthropic(base_url=f"http://{mock}", api_key=key, max_retries=0, timeout=30)


def gemini(mock, key="gm-mock-key"):
    # Callers keep the Client alive: it closes its HTTP client when garbage-collected.
    return genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=f"http://{mock}"))


def test_anthropic_message(mock):
    msg = claude(mock).messages.create(
        model="claude-sonnet-4-6", max_tokens=64, system="Be brief",
        messages=[{"role": "user", "content": "hello claude"}],
    )
    assert msg.content[0].text == "echo: hello claude"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens == 3


def test_anthropic_stream(mock):
    with claude(mock).messages.stream(
        model="claude-sonnet-4-6", max_tokens=64,
        messages=[{"role": "user", "content": "one two mock:chunks=4"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: one two mock:chunks=4"
    assert final.usage.output_tokens == 4


def test_anthropic_tool_use(mock):
    msg = claude(mock).messages.create(
        model="claude-sonnet-4-6", max_tokens=64, tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "weather mock:tool=get_weather"}],
    )
    assert msg.stop_reason == "tool_use"
    assert msg.content[0].type == "tool_use" and msg.content[0].name == "get_weather"


def test_anthropic_errors(mock):
    with pytest.raises(anthropic.AuthenticationError):
        claude(mock, key=REVOKED_KEY).messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.APIStatusError) as err:
        claude(mock).messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "mock:status=529"}]
        )
    assert err.value.status_code == 529


def test_gemini_generate(mock):
    client = gemini(mock)
    reply = client.models.generate_content(model="gemini-2.0-flash", contents="hello gemini")
    assert reply.text == "echo: hello gemini"
    assert reply.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert reply.usage_metadata.candidates_token_count == 3


def test_gemini_stream(mock):
    client = gemini(mock)
    chunks = list(client.models.generate_content_stream(model="gemini-2.0-flash", contents="a b mock:chunks=3"))
    assert "".join(c.text or "" for c in chunks) == "echo: a b mock:chunks=3"
    assert chunks[-1].usage_metadata.candidates_token_count == 4


def test_gemini_function_call(mock):
    tool = genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(name="get_weather", description="w")])
    client = gemini(mock)
    reply = client.models.generate_content(
        model="gemini-2.0-flash", contents="weather mock:tool=get_weather",
        config=genai_types.GenerateContentConfig(tools=[tool]),
    )
    assert reply.function_calls[0].name == "get_weather"


def test_gemini_errors(mock):
    with pytest.raises(genai_errors.ClientError) as err:
        client = gemini(mock, key=REVOKED_KEY)
        client.models.generate_content(model="gemini-2.0-flash", contents="x")
    assert err.value.code == 401
    with pytest.raises(genai_errors.ClientError) as err:
        client = gemini(mock)
        client.models.generate_content(model="gemini-2.0-flash", contents="mock:status=429")
    assert err.value.code == 429 and err.value.status == "RESOURCE_EXHAUSTED"


def test_openai_embeddings(mock):
    import openai

    c = openai.OpenAI(base_url=f"http://{mock}/v1", api_key="sk-mock-key", max_retries=0, timeout=30)
    reply = c.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    assert [len(d.embedding) for d in reply.data] == [1536, 1536]
    assert reply.usage.prompt_tokens == 3
    floats = c.embeddings.create(model="text-embedding-3-large", input="a b", dimensions=8,
                                 encoding_format="float")
    assert len(floats.data[0].embedding) == 8


def test_gemini_embeddings(mock):
    client = gemini(mock)
    reply = client.models.embed_content(model="gemini-embedding-001", contents=["one", "two"],
                                        config=genai_types.EmbedContentConfig(output_dimensionality=8))
    assert [len(e.values) for e in reply.embeddings] == [8, 8]
    assert reply.embeddings[0].values != reply.embeddings[1].values
    default = client.models.embed_content(model="gemini-embedding-001", contents="one")
    assert len(default.embeddings[0].values) == 3072


def test_openai_responses(mock):
    """The mock's Responses API, read by the openai SDK: objects, typed streams with reasoning
    summaries, function calls, usage in the Responses API's names, OpenAI's refusals."""
    import openai

    c = openai.OpenAI(base_url=f"http://{mock}/v1", api_key="sk-mock-key", max_retries=0, timeout=30)
    r = c.responses.create(model="gpt-4o", instructions="Be brief", input="hi there")
    assert r.status == "completed" and r.output_text == "echo: hi there"
    assert r.instructions == "Be brief" and r.store is True
    assert (r.usage.input_tokens, r.usage.output_tokens) == (4, 3)
    with c.responses.stream(model="o3", input="plan it mock:chunks=3",
                            reasoning={"effort": "low", "summary": "auto"}) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in kinds and kinds.count("response.output_text.delta") == 3
    assert final.output[0].type == "reasoning" and final.output[0].summary[0].text
    assert final.output_text == "echo: plan it mock:chunks=3"
    assert final.usage.output_tokens_details.reasoning_tokens > 0
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    call = c.responses.create(model="gpt-4o", input="weather? mock:tool=get_weather", tools=tools)
    assert call.output[0].type == "function_call" and call.output[0].name == "get_weather"
    with pytest.raises(openai.BadRequestError) as err:
        c.responses.create(model="gpt-4o", input="x", previous_response_id="nope")
    assert "previous_response_id" in err.value.message
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"http://{mock}/v1", api_key=REVOKED_KEY, max_retries=0).responses.create(
            model="gpt-4o", input="x")
