"""The official SDKs over https: a gateway with `[tls]` on `listen` (the test CA's certificate
for localhost), each SDK trusting that CA through its own HTTP-client options, whole and
streamed, on both I/O drivers; a client that does not trust the CA is refused."""

import pathlib
import ssl
import tempfile

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from conftest import BIN_DIR, WARDEN_KEY, _addr_after, _start, config_text, keep_for_scan

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tls"
CA = str(FIXTURES / "ca.pem")


def trusting_ca():
    return ssl.create_default_context(cafile=CA)


@pytest.fixture(scope="module", params=["io_uring", "epoll"])
def https_gateway(request, mock):
    """`https://localhost:PORT` of a gateway serving the test certificate."""
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "dataplane.toml"
        text = config_text(tmp, mock)
        text += f'\n[tls]\ncert_file = "{FIXTURES / "server.pem"}"\nkey_file = "{FIXTURES / "server.key"}"\n'
        path.write_text(text)
        env = {"WARDEN_LOG": "warn"}
        if request.param == "epoll":
            env["MONOIO_FORCE_LEGACY_DRIVER"] = "1"
        proc, line = _start([str(BIN_DIR / "warden-dataplane"), "--config", str(path)], env)
        addr = _addr_after(line, "listening on https://")
        yield f"https://localhost:{addr.rsplit(':', 1)[1]}"
        proc.terminate()
        proc.wait(timeout=30)
        keep_for_scan(tmp)


def test_openai_sdk_over_https(https_gateway):
    client = openai.OpenAI(
        base_url=f"{https_gateway}/v1", api_key=WARDEN_KEY, max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=trusting_ca()),
    )
    reply = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello over https"}]
    )
    assert reply.choices[0].message.content == "echo: hello over https"
    stream = client.chat.completions.create(
        model="claude-4-sonnet", stream=True,
        messages=[{"role": "user", "content": "a b c d mock:chunks=4"}],
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo: a b c d mock:chunks=4"


def test_anthropic_sdk_over_https(https_gateway):
    client = anthropic.Anthropic(
        base_url=https_gateway, api_key=WARDEN_KEY, max_retries=0,
        http_client=anthropic.DefaultHttpxClient(verify=trusting_ca()),
    )
    with client.messages.stream(
        model="claude-4-sonnet", max_tokens=64,
        messages=[{"role": "user", "content": "native tls mock:chunks=3"}],
    ) as stream:
        assert "".join(stream.text_stream) == "echo: native tls mock:chunks=3"


def test_google_genai_sdk_over_https(https_gateway):
    client = genai.Client(
        api_key=WARDEN_KEY,
        http_options=genai_types.HttpOptions(base_url=https_gateway, client_args={"verify": trusting_ca()}),
    )
    reply = client.models.generate_content(model="gemini-2.0-flash", contents="gemini over https")
    assert reply.text == "echo: gemini over https"
    chunks = client.models.generate_content_stream(
        model="gemini-2.0-flash", contents="x y z mock:chunks=3"
    )
    assert "".join(c.text or "" for c in chunks) == "echo: x y z mock:chunks=3"


def test_a_client_that_does_not_trust_the_certificate_is_refused(https_gateway):
    client = openai.OpenAI(
        base_url=f"{https_gateway}/v1", api_key=WARDEN_KEY, max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=True),
    )
    with pytest.raises(openai.APIConnectionError) as err:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    causes, e = [], err.value
    while e is not None:
        causes.append(repr(e))
        e = e.__cause__ or e.__context__
    assert any("CERTIFICATE_VERIFY_FAILED" in c for c in causes), causes
