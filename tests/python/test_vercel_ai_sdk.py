"""The Vercel AI SDK's default OpenAI provider (npm `ai` + `@ai-sdk/openai`, which call the
Responses API) through Warden, for an OpenAI, an Anthropic and a Gemini alias: text, a stream, a
tool call the SDK executes, and a zod-typed object. The client runs in Node
(tests/js/vercel_ai.mjs, its packages pinned in tests/js/package-lock.json); `.ci/run` installs
them with `npm ci`."""

import json
import pathlib
import subprocess

JS = pathlib.Path(__file__).resolve().parent.parent / "js"
ALIASES = ["gpt-4o-mini", "claude-4-sonnet", "gemini-2.0-flash"]


def test_vercel_ai_sdk_through_the_responses_route(gateway):
    from conftest import WARDEN_KEY

    run = subprocess.run(["node", str(JS / "vercel_ai.mjs"), gateway.v1, WARDEN_KEY, *ALIASES],
                         cwd=JS, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["paths"] == ["/v1/responses"], "the SDK's default provider calls the Responses API"
    for alias in ALIASES:
        r = out["results"][alias]
        assert r["text"] == f"echo: hello {alias}"
        assert r["usage"]["outputTokens"] == 3 and r["usage"]["inputTokens"] > 0
        assert r["streamed"] == "echo: one two three mock:chunks=4"
        assert r["toolCalls"] == ["get_weather"] and r["toolResults"] == [{"conditions": "sunny"}]
        obj = r["object"]
        assert isinstance(obj["city"], str) and isinstance(obj["temperature_c"], (int, float))
        assert all(isinstance(h, (int, float)) for h in obj["hourly"])
