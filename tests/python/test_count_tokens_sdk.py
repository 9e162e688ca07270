"""Token counts through the official SDKs: anthropic's `messages.count_tokens` and google-genai's
`models.count_tokens` against Warden's native routes, with the guarded project (PII restored,
secrets blocked) — the count is the provider's, and a secret never leaves."""

import anthropic
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import GUARDED_KEY

EMAIL = "jane.doe@example.com"
TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"


def claude(gateway):
    return anthropic.Anthropic(base_url=str(gateway), api_key=GUARDED_KEY, max_retries=0, timeout=30)


def gemini(gateway):
    return genai.Client(api_key=GUARDED_KEY, http_options=genai_types.HttpOptions(base_url=str(gateway)))


def test_anthropic_sdk_counts_tokens(gateway):
    # The mock counts words: a system prompt of two, a message of six (the address goes out as
    # one placeholder).
    count = claude(gateway).messages.count_tokens(
        model="claude-4-sonnet", system="be brief",
        messages=[{"role": "user", "content": f"write to {EMAIL} about tomorrow's meeting"}],
    )
    assert count.input_tokens == 8
    with pytest.raises(anthropic.BadRequestError) as err:
        claude(gateway).messages.count_tokens(
            model="claude-4-sonnet", messages=[{"role": "user", "content": f"deploy with {TOKEN}"}]
        )
    assert TOKEN not in str(err.value)


def test_genai_sdk_counts_tokens(gateway):
    client = gemini(gateway)
    count = client.models.count_tokens(
        model="gemini-2.0-flash", contents=f"write to {EMAIL} about tomorrow's meeting"
    )
    assert count.total_tokens == 6
    with pytest.raises(genai_errors.ClientError) as err:
        client.models.count_tokens(model="gemini-2.0-flash", contents=f"deploy with {TOKEN}")
    assert err.value.code == 400 and TOKEN not in str(err.value)


def test_openai_sdk_counts_responses_input_tokens(gateway):
    import openai

    c = openai.OpenAI(base_url=gateway.v1, api_key=GUARDED_KEY, max_retries=0, timeout=30)
    count = c.responses.input_tokens.count(
        model="gpt-4o", instructions="be brief", input=f"write to {EMAIL} about tomorrow's meeting"
    )
    assert (count.object, count.input_tokens) == ("response.input_tokens", 8)
    with pytest.raises(openai.BadRequestError) as err:
        c.responses.input_tokens.count(model="gpt-4o", input=f"deploy with {TOKEN}")
    assert err.value.code == "guardrail_blocked" and TOKEN not in str(err.value)
    # OpenAI's endpoint counts for OpenAI's models only.
    with pytest.raises(openai.BadRequestError) as err:
        c.responses.input_tokens.count(model="claude-4-sonnet", input="hi")
    assert "another provider" in str(err.value)
