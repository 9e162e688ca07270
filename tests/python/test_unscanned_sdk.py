"""A project that refuses what no guardrail reads (`unscanned = "block"`): an image, a PDF or
audio sent through the official SDKs is refused in each SDK's own error, naming the kind; the
same request as text alone goes through."""

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import STRICT_KEY

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PDF = "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="


def test_openai_sdk_an_image_is_refused_and_text_alone_passes(gateway):
    client = openai.OpenAI(base_url=gateway.v1, api_key=STRICT_KEY, max_retries=0, timeout=30)
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}],
        )
    assert err.value.code == "guardrail_blocked"
    assert "unscanned: the request carries image content" in str(err.value)
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(
            model="gpt-4o",
            input=[{"role": "user", "content": [
                {"type": "input_text", "text": "Summarise."},
                {"type": "input_file", "filename": "report.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}]}],
        )
    assert "document content, which no guardrail reads" in str(err.value)
    ok = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"}]}]
    )
    assert ok.choices[0].message.content


def test_anthropic_sdk_a_pdf_is_refused(gateway):
    client = anthropic.Anthropic(base_url=str(gateway), api_key=STRICT_KEY, max_retries=0, timeout=30)
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(
            model="claude-4-sonnet", max_tokens=64,
            messages=[{"role": "user", "content": [pdf, {"type": "text", "text": "Summarise."}]}],
        )
    assert "unscanned" in str(err.value) and "document" in str(err.value)
    ok = client.messages.create(
        model="claude-4-sonnet", max_tokens=64, messages=[{"role": "user", "content": "Summarise."}]
    )
    assert ok.stop_reason == "end_turn"


def test_genai_sdk_audio_is_refused(gateway):
    client = genai.Client(api_key=STRICT_KEY, http_options=genai_types.HttpOptions(base_url=str(gateway)))
    audio = genai_types.Part.from_bytes(data=b"ID3\x04\x00\x00\x00\x00\x00", mime_type="audio/mp3")
    with pytest.raises(genai_errors.ClientError) as err:
        client.models.generate_content(model="gemini-2.0-flash", contents=[audio, "Transcribe this."])
    assert err.value.code == 400
    assert "unscanned" in str(err.value) and "audio" in str(err.value)
    ok = client.models.generate_content(model="gemini-2.0-flash", contents="Transcribe this.")
    assert ok.text
