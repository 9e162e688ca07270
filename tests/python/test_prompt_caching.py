"""Anthropic prompt caching through Warden: `cache_control` breakpoints on OpenAI content parts
reach Anthropic on its blocks (the system prompt included), and the cache write and read come
back — cache reads as `prompt_tokens_details.cached_tokens`, which Warden bills as free; on
Anthropic's own route the SDK's `cache_control` passes through and the usage fields too."""

import uuid

import anthropic
import openai

from conftest import WARDEN_KEY


def test_cache_control_on_the_openai_route(gateway):
    c = openai.OpenAI(base_url=gateway.v1, api_key=WARDEN_KEY, max_retries=0, timeout=30)
    manual = f"manual {uuid.uuid4().hex} " + "policy text " * 50
    system = {"role": "system", "content": [
        {"type": "text", "text": manual, "cache_control": {"type": "ephemeral"}}]}
    words = len(manual.split())
    first = c.chat.completions.create(model="claude-4-sonnet", messages=[system, {"role": "user", "content": "q one"}])
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert first.usage.prompt_tokens == words + 2  # the write counts as input
    second = c.chat.completions.create(model="claude-4-sonnet", messages=[system, {"role": "user", "content": "q two"}])
    assert second.usage.prompt_tokens_details.cached_tokens == words
    assert second.usage.prompt_tokens == words + 2
    assert second.choices[0].message.content == "echo: q two"


def test_cache_control_on_the_native_route(gateway):
    c = anthropic.Anthropic(base_url=str(gateway), api_key=WARDEN_KEY, max_retries=0, timeout=30)
    system = [{"type": "text", "text": f"native {uuid.uuid4().hex} " + "doc " * 40,
               "cache_control": {"type": "ephemeral"}}]
    first = c.messages.create(model="claude-4-sonnet", max_tokens=64, system=system,
                              messages=[{"role": "user", "content": "hi"}])
    assert first.usage.cache_creation_input_tokens == 42 and first.usage.cache_read_input_tokens == 0
    second = c.messages.create(model="claude-4-sonnet", max_tokens=64, system=system,
                               messages=[{"role": "user", "content": "hi"}])
    assert second.usage.cache_read_input_tokens == 42 and second.usage.input_tokens == 1
