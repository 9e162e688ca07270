"""OpenTelemetry traces over OTLP/HTTP protobuf, read by a receiver that decodes them with the
official OTLP protobuf definitions (the `opentelemetry-proto` package), the way a collector's
OTLP/HTTP receiver does: POST /v1/traces, `application/x-protobuf`, an ExportTraceServiceRequest
in, an ExportTraceServiceResponse out.

Requests go through the official openai SDK with a W3C `traceparent`; the spans must name the
client's span as their parent, carry the GenAI attributes, nest the guardrails, upstream attempt
and stream spans under the request, and the provider must receive a `traceparent` that names the
attempt's span."""

import http.server
import json
import pathlib
import tempfile
import threading
import time

import openai
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import WARDEN_KEY, _addr_after, _start, BIN_DIR, keep_for_scan, start_gateway

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests = []
        self.lock = threading.Lock()

    def spans(self):
        """Every span received: (resource attributes, span)."""
        with self.lock:
            out = []
            for req in self.requests:
                for rs in req.resource_spans:
                    resource = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        out.extend((resource, s) for s in ss.spans)
            return out


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        assert self.path == "/v1/traces", self.path
        assert self.headers["content-type"] == "application/x-protobuf"
        req = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            self.server.requests.append(req)
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def attrs(span):
    out = {}
    for a in span.attributes:
        v = a.value
        out[a.key] = {"string_value": v.string_value, "int_value": v.int_value, "bool_value": v.bool_value}[
            v.WhichOneof("value")
        ]
    return out


@pytest.fixture
def traced():
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        capture = pathlib.Path(tmp) / "capture.jsonl"
        mock_proc, line = _start(
            [str(BIN_DIR / "warden-loadtest"), "mock", "--listen", "127.0.0.1:0", "--capture", str(capture)]
        )
        mock = _addr_after(line, "http://")
        extra = (
            "\n[telemetry]\n"
            f'otlp_endpoint = "http://127.0.0.1:{receiver.server_address[1]}/v1/traces"\n'
            'service_name = "warden-test"\n'
        )
        proc, gateway = start_gateway(tmp, mock, extra)
        yield gateway, receiver, capture
        proc.terminate()
        proc.wait(timeout=30)
        mock_proc.kill()
        mock_proc.wait()
        keep_for_scan(tmp)
    receiver.shutdown()


def wait_for(receiver, want, limit=15.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        spans = receiver.spans()
        if want(spans):
            return spans
        time.sleep(0.1)
    raise AssertionError(f"spans never arrived: {[s.name for _, s in receiver.spans()]}")


def test_a_request_is_one_trace_with_genai_attributes_and_child_spans(traced):
    gateway, receiver, capture = traced
    client = openai.OpenAI(
        base_url=gateway.v1,
        api_key=WARDEN_KEY,
        default_headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"},
    )
    whole = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "trace me"}]
    )
    streamed = list(
        client.chat.completions.create(
            model="claude-4-sonnet",
            messages=[{"role": "user", "content": "trace me too mock:chunks=4"}],
            stream=True,
        )
    )
    assert streamed

    def ours(spans):
        return [s for _, s in spans if s.trace_id.hex() == TRACE_ID]

    spans = wait_for(receiver, lambda s: len([x for x in ours(s) if x.name.startswith("chat ")]) == 2)
    mine = ours(spans)
    resource = next(r for r, s in spans if s.trace_id.hex() == TRACE_ID)
    assert resource["service.name"] == "warden-test"

    server = next(s for s in mine if s.name == "chat gpt-4o")
    assert server.kind == server.SPAN_KIND_SERVER
    assert server.parent_span_id.hex() == CLIENT_SPAN, "the client's span is the parent"
    a = attrs(server)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-4o"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.usage.input_tokens"] == whole.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == whole.usage.completion_tokens
    assert a["http.response.status_code"] == 200
    assert a["warden.key_source"] == "byok"
    assert server.end_time_unix_nano > server.start_time_unix_nano

    children = [s for s in mine if s.parent_span_id == server.span_id]
    names = sorted(s.name for s in children)
    assert names == ["guardrails", "openai upstream"], names
    upstream = next(s for s in children if s.name == "openai upstream")
    assert upstream.kind == upstream.SPAN_KIND_CLIENT
    assert attrs(upstream)["warden.attempt.outcome"] == "ok"
    assert server.start_time_unix_nano <= upstream.start_time_unix_nano <= server.end_time_unix_nano

    stream = next(s for s in mine if s.name == "chat claude-4-sonnet")
    assert attrs(stream)["warden.stream"] is True
    assert attrs(stream)["gen_ai.provider.name"] == "anthropic"
    assert sorted(s.name for s in mine if s.parent_span_id == stream.span_id) == [
        "anthropic upstream",
        "guardrails",
        "stream",
    ]

    # The provider got the trace, with the attempt's span as the parent of whatever it does.
    sent = [json.loads(line) for line in capture.read_text().splitlines()]
    parents = [r["headers"]["traceparent"] for r in sent]
    assert parents[0] == f"00-{TRACE_ID}-{upstream.span_id.hex()}-01", parents
    assert all(p.startswith(f"00-{TRACE_ID}-") for p in parents)

    # Nothing of the key or the prompt is in any span.
    for s in mine:
        for v in attrs(s).values():
            assert WARDEN_KEY not in str(v) and "trace me" not in str(v)


def test_without_a_client_context_the_gateway_starts_the_trace(traced):
    gateway, receiver, capture = traced
    client = openai.OpenAI(base_url=gateway.v1, api_key=WARDEN_KEY)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    spans = wait_for(receiver, lambda s: any(x.name == "chat gpt-4o" for _, x in s))
    server = next(s for _, s in spans if s.name == "chat gpt-4o")
    assert server.parent_span_id == b"", "a root span"
    assert len(server.trace_id) == 16 and server.trace_id != bytes(16)
    sent = json.loads(capture.read_text().splitlines()[-1])
    assert sent["headers"]["traceparent"].startswith(f"00-{server.trace_id.hex()}-")


def test_the_control_plane_traces_its_api_too():
    import urllib.request

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "controlplane.toml"
        path.write_text(
            'listen = "127.0.0.1:0"\n'
            f'data_dir = "{tmp}/data"\n'
            "[telemetry]\n"
            f'otlp_endpoint = "http://127.0.0.1:{receiver.server_address[1]}/v1/traces"\n'
        )
        proc, line = _start([str(BIN_DIR / "warden-controlplane"), "--config", str(path)], {"WARDEN_LOG": "warn"})
        try:
            addr = _addr_after(line, "http://")
            req = urllib.request.Request(
                f"http://{addr}/readyz", headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"}
            )
            assert urllib.request.urlopen(req, timeout=10).status == 200
            token = (pathlib.Path(tmp) / "data" / "admin-token").read_text().strip()
            req = urllib.request.Request(
                f"http://{addr}/admin/v1/tenants", headers={"authorization": f"Bearer {token}"}
            )
            assert urllib.request.urlopen(req, timeout=10).status == 200
            spans = wait_for(
                receiver,
                lambda s: {"GET /readyz", "GET /admin/v1/tenants"} <= {x.name for _, x in s},
            )
            resource, ready = next((r, s) for r, s in spans if s.name == "GET /readyz")
            assert resource["service.name"] == "warden-controlplane"
            assert ready.trace_id.hex() == TRACE_ID and ready.parent_span_id.hex() == CLIENT_SPAN
            assert ready.kind == ready.SPAN_KIND_SERVER
            assert attrs(ready)["http.response.status_code"] == 200
            tenants = next(s for _, s in spans if s.name == "GET /admin/v1/tenants")
            assert tenants.parent_span_id == b"" and tenants.trace_id.hex() != TRACE_ID
            assert all(token not in str(v) for _, s in spans for v in attrs(s).values())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            receiver.shutdown()
