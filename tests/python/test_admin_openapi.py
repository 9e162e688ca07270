"""The control plane's OpenAPI document against the API it describes.

The document (`GET /admin/v1/openapi.json`, no token) must validate as OpenAPI 3.1
(openapi-spec-validator), every operation in it must be routed, and Schemathesis (from pip) then
generates requests from it — schema-valid and schema-violating bodies, parameters and headers,
with and without the token, and stateful sequences along the document's links (create a tenant,
then its project, then that project's keys and policies, then delete them) — and checks every
answer: no 5xx, only documented statuses and content types, bodies that match their response
schemas, invalid input refused, requests without the token refused, deleted objects gone.

One check is left out, and why: `positive_data_acceptance` (every schema-valid request gets a
2xx). Some rules are not expressible in JSON Schema — a fallback must be another *known* alias, a
name must be unique, a spending cap is at most 18 million dollars, JSON text with lone
surrogates is not UTF-8 — so valid-looking requests do get 400, by design.

The run is seeded, so a failure reproduces; Schemathesis prints the curl command for each."""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import pytest
from openapi_spec_validator import validate

from conftest import BIN_DIR, _addr_after

SCHEMATHESIS = pathlib.Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    "missing_required_header", "unsupported_method", "ignored_auth", "use_after_free",
    "ensure_resource_availability",
])


@pytest.fixture(scope="module")
def control_plane():
    """A control plane on SQLite; its log (warn and above) is kept to look for internal errors."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        data = tmp / "cp"
        (tmp / "controlplane.toml").write_text(f'listen = "127.0.0.1:0"\ndata_dir = "{data}"\n')
        log = open(tmp / "controlplane.log", "w")
        proc = subprocess.Popen(
            [str(BIN_DIR / "warden-controlplane"), "--config", str(tmp / "controlplane.toml")],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
            env={**os.environ, "WARDEN_LOG": "warn"},
        )
        line = proc.stdout.readline()
        assert line, "the control plane exited before announcing its address"
        base = f"http://{_addr_after(line, 'listening on http://')}"
        try:
            yield base, data, tmp / "controlplane.log"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def call(method, url, token=None, body=None):
    """(status, content type, body bytes)."""
    req = urllib.request.Request(url, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


def document(base):
    status, kind, body = call("GET", f"{base}/admin/v1/openapi.json")
    assert status == 200 and kind.startswith("application/json"), (status, kind)
    return json.loads(body)


def test_the_document_is_valid_openapi_31_and_every_operation_is_routed(control_plane):
    base, data, _ = control_plane
    doc = document(base)
    assert doc["openapi"] == "3.1.0"
    validate(doc)
    token = (data / "admin-token").read_text().strip()
    operations = [(path, method, op) for path, item in doc["paths"].items()
                  for method, op in item.items()]
    assert len(operations) >= 40, len(operations)
    for path, method, op in operations:
        if path.startswith("/admin/v1/") and path != "/admin/v1/openapi.json":
            assert op.get("security") == [{"admin": []}], (method, path)
            # Without the token: 401, in the API's JSON error shape.
            status, kind, body = call(method.upper(), base + path.replace("{", "x").replace("}", ""))
            assert status == 401, (method, path, status)
            assert json.loads(body)["error"]["type"] == "unauthorized"
        # With it, placeholders for path parameters and an empty body: the router knows the
        # operation (no 405, and no bare 404 — this API's own 404s say what was not found).
        body = {} if "requestBody" in op else None
        status, kind, answer = call(method.upper(), base + path.replace("{", "x").replace("}", ""),
                                    token, body)
        assert status != 405, (method, path)
        if status == 404:
            assert json.loads(answer)["error"]["type"] == "not_found", (method, path)
        assert str(status) in op["responses"], (method, path, status, answer[:200])


# CPython 3.11.7 (this machine's python3, from pyenv) can raise "SystemError: AST
# constructor recursion depth mismatch" from `ast.parse`; Hypothesis calls it to describe lambdas
# while it validates strategies, so Schemathesis reports a runtime error of its own that says
# nothing about the API (seen on 2 of 5 runs on 2026-12-04, seed unchanged; on 3 tries in a row
# of one suite run on 2026-12-06). The AST builder's recursion counter is one per interpreter,
# shared by threads, so Schemathesis runs with one worker thread (as fast here: 20-24 s against
# 21 s; no such error in four runs since, two of them beside the whole suite). A run that still
# meets it is repeated, at most twice; every other failure stands.
INTERPRETER_BUG = "AST constructor recursion depth mismatch"


def schemathesis(base, token, *extra):
    for _ in range(3):
        # In a scratch directory: Schemathesis keeps a cache of its own where it runs.
        with tempfile.TemporaryDirectory() as scratch:
            result = run_schemathesis(base, token, scratch, *extra)
        if result.returncode == 0 or INTERPRETER_BUG not in result.stdout + result.stderr:
            return result
    return result


def run_schemathesis(base, token, cwd, *extra):
    return subprocess.run(
        [str(SCHEMATHESIS), "run", f"{base}/admin/v1/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--seed", "8128",
         "--max-examples", "40", "--workers", "1", "--request-timeout", "10",
         "--no-color", *extra],
        capture_output=True, text=True, timeout=600, cwd=cwd,
    )


def test_schemathesis_finds_the_api_true_to_its_document(control_plane):
    base, data, log = control_plane
    admin = schemathesis(base, (data / "admin-token").read_text().strip(),
                         "--exclude-path-regex", "^/dataplane/")
    assert admin.returncode == 0, admin.stdout[-20000:] + admin.stderr[-2000:]
    # The data planes' link, with the enrolment token: registration enrols (the credential is
    # shown once); a usage batch needs the credential of the data plane it names.
    link = schemathesis(base, (data / "dataplane-token").read_text().strip(),
                        "--include-path-regex", "^/dataplane/", "--phases", "coverage,fuzzing")
    assert link.returncode == 0, link.stdout[-20000:] + link.stderr[-2000:]
    assert "internal error" not in log.read_text()
    # Whatever the run created or deleted, the control plane still publishes a change.
    token = (data / "admin-token").read_text().strip()
    status, _, body = call("POST", f"{base}/admin/v1/tenants", token,
                           {"name": "after the property run", "plan": "team"})
    assert status == 201, body
