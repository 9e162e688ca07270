"""The model list and look-up through each official SDK: openai's `models.list` / `retrieve`,
anthropic's `models.list` / `retrieve` and google-genai's `models.list` / `get`, each answered in
its own dialect with the models its native route serves."""

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import WARDEN_KEY


def test_openai_sdk_retrieves_a_model(gateway):
    c = openai.OpenAI(base_url=gateway.v1, api_key=WARDEN_KEY, max_retries=0, timeout=30)
    m = c.models.retrieve("claude-4-sonnet")
    assert (m.id, m.object, m.owned_by) == ("claude-4-sonnet", "model", "anthropic")
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("no-such-model")


def test_anthropic_sdk_lists_and_retrieves_claude_models(gateway):
    c = anthropic.Anthropic(base_url=str(gateway), api_key=WARDEN_KEY, max_retries=0, timeout=30)
    ids = [m.id for m in c.models.list()]
    assert {"claude-4-sonnet", "claude-3-5-sonnet"} <= set(ids)
    assert ids == sorted(ids) and not any(i.startswith(("gpt", "gemini")) for i in ids), ids
    m = c.models.retrieve("claude-4-sonnet")
    assert (m.id, m.type) == ("claude-4-sonnet", "model")
    # Another provider's model is not one the Messages route serves.
    for missing in ["gpt-4o", "no-such-model"]:
        with pytest.raises(anthropic.NotFoundError):
            c.models.retrieve(missing)


def test_genai_sdk_lists_and_gets_gemini_models(gateway):
    c = genai.Client(api_key=WARDEN_KEY, http_options=genai_types.HttpOptions(base_url=str(gateway)))
    models = {m.name: m for m in c.models.list()}
    assert "models/gemini-2.0-flash" in models and "models/gemini-embedding-001" in models, models.keys()
    assert all(n.startswith("models/gemini") for n in models), models.keys()
    assert "generateContent" in models["models/gemini-2.0-flash"].supported_actions
    assert models["models/gemini-embedding-001"].supported_actions == ["embedContent", "batchEmbedContents"]
    got = c.models.get(model="gemini-2.0-flash")
    assert got.name == "models/gemini-2.0-flash" and got.display_name == "gemini-2.0-flash"
    with pytest.raises(genai_errors.ClientError) as err:
        c.models.get(model="gpt-4o")
    assert err.value.code == 404
