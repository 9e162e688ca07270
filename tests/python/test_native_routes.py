"""Clients that speak a provider's own dialect: the anthropic SDK against Warden's /v1/messages
and the google-genai SDK against Warden's Gemini route, with Warden keys."""

import anthropic
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import REVOKED_WARDEN_KEY, WARDEN_KEY


def claude(gateway, key=WARDEN_KEY):
    return anthropic.Anthropic(base_url=str(gateway), api_key=key, max_retries=0, timeout=30)


def gemini(gateway, key=WARDEN_KEY):
    # Callers keep the Client alive: it closes its HTTP client when garbage-collected.
    return genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=str(gateway)))


def test_anthropic_sdk_messages(gateway):
    msg = claude(gateway).messages.create(
        model="claude-4-sonnet", max_tokens=64, messages=[{"role": "user", "content": "hello native"}]
    )
    assert msg.content[0].text == "echo: hello native"
    assert msg.model == "claude-sonnet-4-6", "the alias was rewritten to the upstream model"


def test_anthropic_sdk_stream_and_tools(gateway):
    with claude(gateway).messages.stream(
        model="claude-4-sonnet", max_tokens=64, messages=[{"role": "user", "content": "a b c mock:chunks=3"}]
    ) as stream:
        assert "".join(stream.text_stream) == "echo: a b c mock:chunks=3"
    msg = claude(gateway).messages.create(
        model="claude-4-sonnet", max_tokens=64,
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "mock:tool=get_weather"}],
    )
    assert msg.stop_reason == "tool_use" and msg.content[0].name == "get_weather"


def test_anthropic_sdk_errors_are_anthropic_errors(gateway):
    with pytest.raises(anthropic.AuthenticationError):
        claude(gateway, key="wdn_nope").messages.create(
            model="claude-4-sonnet", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.AuthenticationError) as err:
        claude(gateway, key=REVOKED_WARDEN_KEY).messages.create(
            model="claude-4-sonnet", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert "sk-sdk-revoked" not in str(err.value)
    with pytest.raises(anthropic.NotFoundError):
        claude(gateway).messages.create(model="claude-0", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.RateLimitError):
        claude(gateway).messages.create(
            model="claude-4-sonnet", max_tokens=8, messages=[{"role": "user", "content": "mock:status=429"}]
        )


def test_anthropic_sdk_betas_pass_and_a_beta_that_is_no_name_is_refused(gateway):
    # The SDK sends `betas` as one comma-separated anthropic-beta header, which Warden passes on.
    msg = claude(gateway).beta.messages.create(
        model="claude-4-sonnet", max_tokens=16, betas=["files-api-2025-04-14", "context-1m-2025-08-07"],
        messages=[{"role": "user", "content": "hello beta"}],
    )
    assert msg.content[0].text == "echo: hello beta"
    # No guardrail reads headers: a value that is not a beta name would reach the provider unread.
    with pytest.raises(anthropic.BadRequestError) as err:
        claude(gateway).beta.messages.create(
            model="claude-4-sonnet", max_tokens=16, betas=["4111-1111-1111-1111"],
            messages=[{"role": "user", "content": "hello beta"}],
        )
    assert "anthropic-beta" in str(err.value) and "4111" not in str(err.value)


def test_google_genai_sdk_generate_and_stream(gateway):
    client = gemini(gateway)
    reply = client.models.generate_content(model="gemini-2.0-flash", contents="hello gemini route")
    assert reply.text == "echo: hello gemini route"
    chunks = list(client.models.generate_content_stream(model="gemini-2.0-flash", contents="x y mock:chunks=2"))
    assert "".join(c.text or "" for c in chunks) == "echo: x y mock:chunks=2"
    assert len(chunks) == 3


def test_google_genai_sdk_function_call(gateway):
    client = gemini(gateway)
    tool = genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(name="get_weather", description="w")])
    reply = client.models.generate_content(
        model="gemini-2.0-flash", contents="mock:tool=get_weather",
        config=genai_types.GenerateContentConfig(tools=[tool]),
    )
    assert reply.function_calls[0].name == "get_weather"


def test_google_genai_sdk_errors(gateway):
    client = gemini(gateway, key="wdn_nope")
    with pytest.raises(genai_errors.ClientError) as err:
        client.models.generate_content(model="gemini-2.0-flash", contents="x")
    assert err.value.code == 401 and err.value.status == "UNAUTHENTICATED"
    client = gemini(gateway)
    with pytest.raises(genai_errors.ClientError) as err:
        client.models.generate_content(model="gemini-2.0-flash", contents="mock:status=429")
    assert err.value.code == 429 and err.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(genai_errors.ClientError) as err:
        client.models.generate_content(model="gpt-4o", contents="x")
    assert err.value.code == 400, "an OpenAI alias on the Gemini route"


def test_google_genai_sdk_embed_content(gateway):
    # The SDK calls batchEmbedContents; Warden passes it to Gemini under the tenant's key.
    client = gemini(gateway)
    reply = client.models.embed_content(
        model="gemini-embedding-001", contents=["first text", "second text"],
        config=genai_types.EmbedContentConfig(output_dimensionality=16),
    )
    assert [len(e.values) for e in reply.embeddings] == [16, 16]
    assert reply.embeddings[0].values != reply.embeddings[1].values
    with pytest.raises(genai_errors.ClientError) as err:
        client.models.embed_content(model="gemini-2.0-flash", contents="a chat model")
    assert err.value.code == 400
