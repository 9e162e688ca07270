"""The answer cache through the official SDKs: a repeated request comes back from the cache with
`x-warden-cache: hit` and the same answer — whole or streamed, on the chat, Responses, Anthropic and
Gemini routes — another project never gets it, `Cache-Control: no-store` bypasses it, and in
restore mode each caller gets its own values back from the one cached answer."""

import uuid

import anthropic
import openai
from google import genai
from google.genai import types as genai_types

from conftest import CACHED_KEY, WARDEN_KEY


def chat(gateway, key=CACHED_KEY):
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0, timeout=30)


def unique(text):
    """A prompt no other test (or earlier run of this one) sent."""
    return f"{text} {uuid.uuid4().hex}"


def test_a_repeated_chat_request_is_a_hit(gateway):
    messages = [{"role": "user", "content": unique("what is caching")}]
    first = chat(gateway).chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    again = chat(gateway).chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    assert first.headers["x-warden-cache"] == "miss"
    assert again.headers["x-warden-cache"] == "hit"
    a, b = first.parse(), again.parse()
    assert b.choices[0].message.content == a.choices[0].message.content
    assert b.usage.prompt_tokens == a.usage.prompt_tokens
    # The same prompt from another project is that project's own request.
    other = chat(gateway, WARDEN_KEY).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages
    )
    assert "x-warden-cache" not in other.headers


def test_a_stream_replays_as_a_stream(gateway):
    messages = [{"role": "user", "content": unique("one two three four mock:chunks=4")}]

    def streamed():
        raw = chat(gateway).chat.completions.with_raw_response.create(
            model="claude-4-sonnet", messages=messages, stream=True
        )
        chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return raw.headers["x-warden-cache"], len(chunks), text

    miss, n, text = streamed()
    hit, m, again = streamed()
    assert (miss, hit) == ("miss", "hit")
    assert again == text and text.startswith("echo: one two three four")
    assert m == n and m > 3, "the same events, one by one"


def test_responses_api_hits(gateway):
    prompt = unique("responses words")
    first = chat(gateway).responses.with_raw_response.create(model="gpt-4o", input=prompt)
    again = chat(gateway).responses.with_raw_response.create(model="gpt-4o", input=prompt)
    assert again.headers["x-warden-cache"] == "hit"
    assert again.parse().output_text == first.parse().output_text == f"echo: {prompt}"


def test_native_routes_hit(gateway):
    claude = anthropic.Anthropic(base_url=str(gateway), api_key=CACHED_KEY, max_retries=0, timeout=30)
    messages = [{"role": "user", "content": unique("native")}]
    claude.messages.create(model="claude-4-sonnet", max_tokens=64, messages=messages)
    raw = claude.messages.with_raw_response.create(model="claude-4-sonnet", max_tokens=64, messages=messages)
    assert raw.headers["x-warden-cache"] == "hit"
    assert raw.parse().content[0].text == messages[0]["content"].join(["echo: ", ""])
    client = genai.Client(api_key=CACHED_KEY, http_options=genai_types.HttpOptions(base_url=str(gateway)))
    prompt = unique("gemini words")
    client.models.generate_content(model="gemini-2.0-flash", contents=prompt)
    again = client.models.generate_content(model="gemini-2.0-flash", contents=prompt)
    assert again.sdk_http_response.headers["x-warden-cache"] == "hit"
    assert again.text == f"echo: {prompt}"


def test_no_store_bypasses(gateway):
    messages = [{"role": "user", "content": unique("private")}]
    c = chat(gateway)
    for _ in range(2):
        raw = c.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=messages, extra_headers={"Cache-Control": "no-store"}
        )
        assert raw.headers["x-warden-cache"] == "bypass"
    assert c.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages
    ).headers["x-warden-cache"] == "miss", "nothing was kept"


def test_restore_gives_each_caller_its_own_values(gateway):
    tag = uuid.uuid4().hex
    ask = lambda email: chat(gateway).chat.completions.with_raw_response.create(  # noqa: E731
        model="gpt-4o", messages=[{"role": "user", "content": f"mail {email} about {tag}"}]
    )
    first = ask("alice@example.com")
    second = ask("bob@example.org")
    assert (first.headers["x-warden-cache"], second.headers["x-warden-cache"]) == ("miss", "hit")
    assert second.parse().choices[0].message.content == f"echo: mail bob@example.org about {tag}"
