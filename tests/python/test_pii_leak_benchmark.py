"""Warden under a PII-leak conformance benchmark it did not write: pii-leak-benchmark 0.6.0 (PyPI,
Apache-2.0, from the LLM-Shield-Proxy project), which stands in as the provider (a capture
server), sends personal data and credentials through the gateway, and checks what the provider
received and what the client got back.

- The HTTP profile (`pii-leak-benchmark --target-base-url …`): an e-mail address, an SSN, a card
  number and AWS, GitHub and Slack credentials in a streamed chat request. Nothing may reach the
  provider unmasked; the client must get its values back (`pii = "restore"`,
  `secrets = "restore"`); the stream must stay valid SSE and rebuild whole.
- The v2 response-split profile (`pii-leak-benchmark-v2 --gateway-url …`): 32 cases over four
  entities, four places in the request (a message, a system prompt, a tool description and a key
  no schema names), and two places in the answer (the content, and a field of the delta no
  schema names), each value whole or cut at every internal offset across SSE events. The echo
  half of each answer replays the masked prompt, which the gateway must restore; the injection
  half carries values the prompt never had, which it must redact (`response_pii = "redact"`),
  plain or percent-encoded (`jane%40example.com`). Its SSN specimens are numbers no SSN or ITIN
  can be (area 9xx, group 01-49): Warden leaves them, as #13 asks of invalid SSN areas.

The gateway is the real binary (WARDEN_BIN_DIR) with one project set up as the benchmark's
README says a redacting gateway should be."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

from conftest import BIN_DIR, _addr_after, _start, keep_for_scan

KEY = "wdn_leak_benchmark_key_0123456789"
CONFIG = """
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
shards = 1
state_dir = "{state}"
audit_ring_dir = "{state}/audit-rings"
io_uring_entries = 256

[providers.openai]
base_url = "http://127.0.0.1:{port}/v1"

[[models]]
alias = "conformance-model"
provider = "openai"
upstream_model = "conformance-model"

[[tenants]]
id = "leak"
plan = "team"

[[tenants.projects]]
id = "leak-restore"
api_keys = ["{key}"]
provider_keys = [{{ provider = "openai", key = "sk-leak-benchmark-upstream-0001" }}]
[tenants.projects.guardrails]
pii = "restore"
secrets = "restore"
response_pii = "redact"
response_secrets = "redact"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name):
    """The benchmark's command from the venv this suite runs in."""
    path = pathlib.Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: tests/python/requirements.txt names pii-leak-benchmark")
    return str(path)


@pytest.fixture()
def gateway_to(tmp_path):
    """start(port): a gateway whose OpenAI provider is the capture on `port`; its base URL."""
    procs = []

    def start(port):
        state = tmp_path / f"gw-{port}"
        state.mkdir()
        config = state / "dataplane.toml"
        config.write_text(CONFIG.format(state=state / "state", port=port, key=KEY))
        proc, line = _start([str(BIN_DIR / "warden-dataplane"), "--config", str(config)], {"WARDEN_LOG": "warn"})
        procs.append((proc, state))
        return f"http://{_addr_after(line, 'listening on http://')}"

    yield start
    for proc, state in procs:
        proc.terminate()
        proc.wait(timeout=30)
        keep_for_scan(state)


def run(args, timeout):
    env = {**os.environ, "CONFORMANCE_TARGET_API_KEY": KEY}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def test_nothing_reaches_the_provider_unmasked_and_the_client_gets_its_values_back(gateway_to, tmp_path):
    port = free_port()
    base = gateway_to(port)
    report = tmp_path / "http-profile.json"
    done = run(
        [
            tool("pii-leak-benchmark"), "--target-base-url", f"{base}/v1", "--capture-port", str(port),
            "--target-model", "conformance-model", "--target-name", "warden", "--iterations", "3",
            "--json-out", str(report),
        ],
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    r = json.loads(report.read_text())
    checks = r["checks"]
    failed = [name for name, c in checks.items() if isinstance(c, dict) and c.get("passed") is False]
    assert not failed, (failed, done.stdout[-4000:])
    boundary = checks["configured_upstream_boundary"]
    assert boundary["correlated_requests"] >= 3 and not boundary["leaked_entity_types"], boundary


def test_answers_restore_the_prompts_values_and_redact_new_ones_however_the_stream_is_cut(gateway_to, tmp_path):
    port = free_port()
    base = gateway_to(port)
    out = tmp_path / "v2"
    done = run(
        [
            tool("pii-leak-benchmark-v2"), "--out", str(out), "--only", "warden",
            "--gateway-url", f"{base}/v1/chat/completions", "--upstream-port", str(port),
            "--model", "conformance-model", "--seed", "a1b2c3d4e5f60001", "--exhaustive-splits",
        ],
        timeout=540,
    )
    report = out / "warden.json"
    assert report.exists(), done.stdout[-4000:] + done.stderr[-2000:]
    r = json.loads(report.read_text())
    checks, metrics = r["checks"], r["metrics"]
    # The request: no value in a message, a system prompt, a tool description or a key no
    # schema names reached the provider — but the profile's SSN specimens: it draws them from
    # area 900-999 with group 01-49, which the SSA never issues and the IRS's ITIN ranges leave
    # out (#13 lists such "invalid SSN areas and groups" among the look-alikes Warden must not
    # redact), so they go on as written.
    boundary = checks["configured_upstream_boundary"]
    assert boundary["captured_requests"] >= 32, boundary
    assert set(boundary["leaked_entity_types"]) <= {"SSN"}, boundary
    # The answer's echo: every masked value came back as the client sent it.
    entities = metrics["by_axis"]["entity"]
    assert set(entities) == {"EMAIL", "SSN", "CARDPAN", "USPHONE"}, entities
    for entity, m in entities.items():
        assert m["fidelity_rate"] == 1.0, (entity, m)
    # The answer's new values, plain or percent-encoded, in the content or in a field of the
    # delta, whole or cut at every offset across events: none reached the client.
    for entity in ("EMAIL", "CARDPAN", "USPHONE"):
        arms = metrics["by_axis_arm"]["entity"][entity]
        assert arms["single_chunk"]["applicable"] > 0, (entity, arms)
        assert arms["single_chunk"]["leaked"] == 0 and arms["adversarial"]["leaked"] == 0, (entity, arms)
    assert checks["sse_validity"]["passed"], checks["sse_validity"]
