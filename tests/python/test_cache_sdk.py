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


def test_a_stream_and_a_whole_answer_share_one_entry_through_the_sdks(gateway):
    """Whichever shape came first, the other is a hit in its own shape, and each SDK reads it as
    it reads a live answer: the OpenAI SDK's chunks and usage, the Anthropic SDK's stream helper
    and final message, google-genai's streamed responses."""
    c = chat(gateway)
    messages = [{"role": "user", "content": unique("whole first mock:chunks=3")}]
    whole = c.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    raw = c.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    assert (whole.headers["x-warden-cache"], raw.headers["x-warden-cache"]) == ("miss", "hit")
    chunks = list(raw.parse())
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == (
        whole.parse().choices[0].message.content
    )
    assert chunks[-1].usage.completion_tokens == whole.parse().usage.completion_tokens

    messages = [{"role": "user", "content": unique("streamed first one two mock:chunks=4")}]
    with c.chat.completions.stream(model="claude-4-sonnet", messages=messages) as s:
        streamed = s.get_final_completion().choices[0].message.content
    again = c.chat.completions.with_raw_response.create(model="claude-4-sonnet", messages=messages)
    assert again.headers["x-warden-cache"] == "hit"
    assert again.parse().choices[0].message.content == streamed
    assert streamed.startswith("echo: streamed first")

    # The Responses API: a kept stream answers the whole-response request ...
    prompt = unique("responses streamed first")
    with c.responses.stream(model="gpt-4o", input=prompt) as s:
        streamed = s.get_final_response().output_text
    again = c.responses.with_raw_response.create(model="gpt-4o", input=prompt)
    assert again.headers["x-warden-cache"] == "hit"
    assert again.parse().output_text == streamed == f"echo: {prompt}"
    # ... and a kept response answers a streamed request as the API's typed events, which the
    # SDK's stream helper (strict about their order and identities) assembles into it again.
    prompt = unique("responses whole first mock:chunks=3")
    whole = c.responses.with_raw_response.create(model="gpt-4o", input=prompt)
    assert whole.headers["x-warden-cache"] == "miss"
    raw = c.responses.with_raw_response.create(model="gpt-4o", input=prompt, stream=True)
    assert raw.headers["x-warden-cache"] == "hit"
    events = list(raw.parse())
    assert (events[0].type, events[-1].type) == ("response.created", "response.completed")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == whole.parse().output_text
    with c.responses.stream(model="gpt-4o", input=prompt) as s:
        names = [e.type for e in s]
        final = s.get_final_response()
    assert "response.output_text.done" in names and "response.output_item.done" in names
    assert final.output_text == whole.parse().output_text
    assert final.usage.output_tokens == whole.parse().usage.output_tokens

    claude = anthropic.Anthropic(base_url=str(gateway), api_key=CACHED_KEY, max_retries=0, timeout=30)
    messages = [{"role": "user", "content": unique("native whole first")}]
    first = claude.messages.create(model="claude-4-sonnet", max_tokens=64, messages=messages)
    with claude.messages.stream(model="claude-4-sonnet", max_tokens=64, messages=messages) as s:
        assert s.response.headers["x-warden-cache"] == "hit"
        final = s.get_final_message()
    assert final.content[0].text == first.content[0].text
    assert (final.stop_reason, final.usage.output_tokens) == (first.stop_reason, first.usage.output_tokens)

    client = genai.Client(api_key=CACHED_KEY, http_options=genai_types.HttpOptions(base_url=str(gateway)))
    prompt = unique("gemini streamed first mock:chunks=3")
    pieces = client.models.generate_content_stream(model="gemini-2.0-flash", contents=prompt)
    streamed = "".join(r.text or "" for r in pieces)
    whole = client.models.generate_content(model="gemini-2.0-flash", contents=prompt)
    assert whole.sdk_http_response.headers["x-warden-cache"] == "hit"
    assert whole.text == streamed == f"echo: {prompt}"


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


SEMANTIC_KEY = "wdn_sdk_semantic_project_key"


def test_a_rephrased_question_is_a_semantic_hit_through_the_sdks(mock, tmp_path):
    """With `mode = "semantic"` and the data plane's embedding model: a rephrasing of the last
    question — in other function words, greeted and misspelt, or with a phrase put first — comes
    back from the cache (`x-warden-cache: semantic`, the first wording's answer) through the OpenAI
    and Anthropic SDKs; a near miss (another number, another word) goes to the provider."""
    import os
    import pathlib
    import time

    from conftest import BIN_DIR, REPO, Gateway

    model = pathlib.Path(os.environ.get("WARDEN_SEMANTIC_MODEL", REPO / "target" / "models" / "semantic"))
    assert (model / "model.safetensors").is_file(), f"no model in {model}: run scripts/semantic-model.sh"
    extra = f"""
[[tenants.projects]]
id = "sdk-semantic"
api_keys = ["{SEMANTIC_KEY}"]
provider_keys = [
  {{ provider = "openai", key = "sk-sdk-semantic-0001" }},
  {{ provider = "anthropic", key = "sk-ant-sdk-semantic-0001" }},
]
[tenants.projects.cache]
mode = "semantic"

[cache]
semantic_model = "{model}"
semantic_timeout_ms = 2000
"""
    import urllib.request

    from conftest import _addr_after, _start, config_text

    path = tmp_path / "dataplane.toml"
    path.write_text(config_text(str(tmp_path), mock) + extra)
    proc, line = _start([str(BIN_DIR / "warden-dataplane"), "--config", str(path)], {"WARDEN_LOG": "warn"})
    gateway = Gateway(f"http://{_addr_after(line, 'listening on http://')}")
    admin = _addr_after(line, "(admin http://")

    def indexed(n):
        """Indexing runs after the answer: wait until the data plane says it holds `n`."""
        want = f"warden_cache_semantic_entries {n}\n"
        for _ in range(200):
            if want in urllib.request.urlopen(f"http://{admin}/metrics", timeout=5).read().decode():
                return
            time.sleep(0.05)
        raise AssertionError(f"never indexed {n}")

    try:
        client = openai.OpenAI(base_url=gateway.v1, api_key=SEMANTIC_KEY, max_retries=0, timeout=30)
        tag = uuid.uuid4().hex[:8]

        def ask(text):
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]
            )
            return raw.headers["x-warden-cache"], raw.parse().choices[0].message.content

        first = f"How do I reset the router {tag}?"
        assert ask(first) == ("miss", f"echo: {first}")
        indexed(1)
        assert ask(f"Can you please tell me how to reset the router {tag}") == ("semantic", f"echo: {first}")
        assert ask(f"How do I reset the router {tag} 2?")[0] == "miss"
        indexed(2)
        # Greeted, thanked, misspelt and with the router put first: the same question.
        assert ask(f"Hi team, for the router {tag}, how do I resset it? Thanks!") == ("semantic", f"echo: {first}")
        # A known word is not a misspelling of another: a route is not a router.
        assert ask(f"How do I reset the route {tag}?")[0] == "miss"
        indexed(3)

        claude = anthropic.Anthropic(base_url=str(gateway), api_key=SEMANTIC_KEY, max_retries=0, timeout=30)
        question = f"What is the boiling point of water {tag}?"
        claude.messages.create(model="claude-4-sonnet", max_tokens=64, messages=[{"role": "user", "content": question}])
        indexed(4)
        raw = claude.messages.with_raw_response.create(
            model="claude-4-sonnet",
            max_tokens=64,
            messages=[{"role": "user", "content": f"what's the boiling point of water {tag}"}],
        )
        assert raw.headers["x-warden-cache"] == "semantic"
        assert raw.parse().content[0].text == f"echo: {question}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
