"""`client.embeddings.create` through Warden with the official openai SDK, for every embedding
alias: the SDK's default base64 encoding and floats decode to the same unit vectors whichever
provider answers (Gemini's batchEmbedContents is translated), usage is reported, guardrails
screen the input, and a chat model on the embeddings route is refused in OpenAI's dialect."""

import base64
import math
import struct

import openai
import pytest

from conftest import EMBEDDING_ALIASES, GUARDED_KEY, WARDEN_KEY

DEFAULT_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
                "gemini-embedding-001": 3072, "groq-embed": 1536}


def client(gateway, key=WARDEN_KEY):
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0, timeout=30)


def floats(embedding):
    """A returned embedding as floats: asked for explicitly, base64 comes back as sent."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return embedding


def norm(v):
    return math.sqrt(sum(x * x for x in v))


@pytest.mark.parametrize("alias", EMBEDDING_ALIASES)
def test_default_encoding_and_dimensions(gateway, alias):
    # The SDK asks for base64 unless told otherwise and decodes it to floats.
    reply = client(gateway).embeddings.create(model=alias, input=["one two three", "four five"])
    assert [d.index for d in reply.data] == [0, 1]
    for d in reply.data:
        assert len(d.embedding) == DEFAULT_DIMS[alias]
        assert abs(norm(d.embedding) - 1.0) < 1e-4
    assert reply.data[0].embedding != reply.data[1].embedding
    assert reply.usage.prompt_tokens > 0 and reply.usage.total_tokens == reply.usage.prompt_tokens


def test_every_alias_embeds_a_text_alike_in_both_encodings(gateway):
    c = client(gateway)
    vectors = []
    for alias in EMBEDDING_ALIASES:
        for encoding in ["float", "base64"]:
            reply = c.embeddings.create(model=alias, input="the same text", dimensions=16,
                                        encoding_format=encoding)
            assert isinstance(reply.data[0].embedding, str) == (encoding == "base64")
            vectors.append((alias, encoding, floats(reply.data[0].embedding)))
    first = vectors[0][2]
    assert len(first) == 16
    for alias, encoding, v in vectors[1:]:
        assert max(abs(a - b) for a, b in zip(v, first)) < 1e-6, (alias, encoding)


def test_usage_counts_the_input(gateway):
    # The mock counts whitespace-separated words, as OpenAI counts tokens.
    reply = client(gateway).embeddings.create(model="text-embedding-3-small",
                                              input=["a b c d", "e f"])
    assert reply.usage.prompt_tokens == 6


def test_guardrails_screen_embedding_input(gateway):
    c = client(gateway, GUARDED_KEY)
    with pytest.raises(openai.BadRequestError) as e:
        c.embeddings.create(model="gemini-embedding-001",
                            input="deploy with ghp_0123456789abcdefghijklmnopqrstuvwxyzAB")
    assert e.value.code == "guardrail_blocked"
    with pytest.raises(openai.BadRequestError) as e:
        c.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]])
    assert "cannot be screened" in e.value.message
    ok = c.embeddings.create(model="text-embedding-3-small", input="mail jane.doe@example.com")
    assert len(ok.data) == 1


def test_chat_models_are_refused_on_the_embeddings_route(gateway):
    with pytest.raises(openai.BadRequestError) as e:
        client(gateway).embeddings.create(model="gpt-4o", input="hi")
    assert "/v1/chat/completions" in e.value.message
    with pytest.raises(openai.NotFoundError):
        client(gateway).embeddings.create(model="no-such-embedder", input="hi")
