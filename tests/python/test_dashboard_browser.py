"""The dashboard in headless Chromium (tests/js/dashboard.mjs, playwright-core driving Debian's
chromium; `.ci/run` installs both): the first operator signs in with the password from
`data_dir/initial-admin-password`, makes a tenant and its project on the page and invites the
tenant's owner; the owner signs in, adds an OpenAI key on the project page and makes a Warden key
there; a request through a data plane with that key is served on the tenant's own key and the
request log page shows "yours"; the provider key is deleted from the page and the next requests
are served on a pooled key, as the request log page shows; a user of another tenant gets 404 for
the project's page and for the tenant's objects in the page's API; a form with a forged CSRF
token is refused; a session ends at `session_max_s`.

The control plane, data plane and mock are the real binaries (WARDEN_BIN_DIR)."""

import json
import os
import pathlib
import subprocess
import tempfile
import time

import urllib.error
import urllib.request

import pytest

from conftest import BIN_DIR, REPO, _addr_after, _start, keep_for_scan

JS = REPO / "tests" / "js"
# Sessions end this long after sign-in here (each browser step signs in anew and takes seconds).
SESSION_S = 40


def browser(step, cp, name, password, project, arg="", shots=""):
    run = subprocess.run(
        ["node", str(JS / "dashboard.mjs"), step, cp, name, password, project, arg, shots],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    return json.loads(run.stdout.strip().splitlines()[-1])


def call(method, url, body=None, token=None):
    """(status, parsed JSON body) of one request."""
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


class Admin:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def get(self, path):
        return call("GET", self.base + path, token=self.token)

    def post(self, path, body):
        return call("POST", self.base + path, body, self.token)


def wait_for(what, check, limit=30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster(mock):
    """A control plane (SQLite) and a data plane it manages, in front of the mock."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        data = tmp / "cp"
        (tmp / "controlplane.toml").write_text(
            f'listen = "127.0.0.1:0"\ndata_dir = "{data}"\n'
            f'[providers.openai]\nbase_url = "http://{mock}/v1"\n'
            f'[dashboard]\nsession_max_s = {SESSION_S}\n'
        )
        cp_proc, line = _start(
            [str(BIN_DIR / "warden-controlplane"), "--config", str(tmp / "controlplane.toml")],
            {"WARDEN_LOG": "warn"},
        )
        cp = f"http://{_addr_after(line, 'listening on http://')}"
        (tmp / "dataplane.toml").write_text(
            f'listen = "127.0.0.1:0"\nadmin_listen = "127.0.0.1:0"\nshards = 1\n'
            f'state_dir = "{tmp / "dp"}"\nmaster_key_file = "{data / "master.key"}"\n'
            f'control_plane = "{cp}"\ncontrol_plane_token_file = "{data / "dataplane-token"}"\n'
            f'snapshot_public_key_file = "{data / "snapshot-signing.pub"}"\n'
        )
        dp_proc, line = _start(
            [str(BIN_DIR / "warden-dataplane"), "--config", str(tmp / "dataplane.toml")],
            {"WARDEN_LOG": "warn"},
        )
        dp = f"http://{_addr_after(line, 'listening on http://')}"
        admin = Admin(cp, (data / "admin-token").read_text().strip())
        try:
            yield cp, dp, data, tmp, admin
        finally:
            for proc in (dp_proc, cp_proc):
                proc.terminate()
                proc.wait(timeout=30)
            # The store, the snapshot and the audit log go to the secrets scan.
            keep_for_scan(tmp)


def tenant_with_project(admin, name):
    status, t = admin.post("/admin/v1/tenants", {"name": name, "plan": "team"})
    assert status == 201, t
    status, p = admin.post(f"/admin/v1/tenants/{t['id']}/projects",
                           {"name": f"{name}-app", "environment": "production"})
    assert status == 201, p
    return t["id"], p["id"]


def key_sources(admin, project):
    rows = admin.get(f"/admin/v1/requests?project={project}")[1]["requests"]
    return {r["key_source"] for r in rows}


def test_an_operator_manages_a_tenants_keys_in_the_browser(cluster):
    cp, dp, data, tmp, admin = cluster
    password = (data / "initial-admin-password").read_text().strip()
    assert oct((data / "initial-admin-password").stat().st_mode & 0o777) == "0o600"
    status, pooled = admin.post("/admin/v1/pooled-keys", {"provider": "openai", "key": "sk-browser-pooled-0001"})
    assert status == 201, pooled
    other, _ = tenant_with_project(admin, "globex")
    shots = os.environ.get("WARDEN_DASHBOARD_SHOTS", "")

    # The operator makes the tenant and its project and invites its owner, all on the pages.
    made = browser("onboard", cp, "admin", password, "-", "acme")
    acme, project, owner, owner_password = made["tenant"], made["project"], made["user"], made["password"]
    status, projects = admin.get(f"/admin/v1/tenants/{acme}/projects")
    assert status == 200 and [p["id"] for p in projects["projects"]] == [project], projects

    # The tenant's owner adds the OpenAI key and makes the Warden key.
    own = "sk-browser-own-key-5521"
    added = browser("add-keys", cp, owner, owner_password, project, own, shots)
    fingerprint = admin.get(f"/admin/v1/projects/{project}/provider-keys")[1]["provider_keys"][0]["fingerprint"]
    assert any(fingerprint in row and "openai" in row for row in added["fingerprint_rows"]), added
    key = added["warden_key"]
    assert key.startswith("wdn_")
    policy = admin.get(f"/admin/v1/projects/{project}/guardrails")[1]
    assert (policy.get("pii"), policy.get("phone_regions")) == ("redact", ["KE", "GB"]), policy

    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
    def served():
        return call("POST", f"{dp}/v1/chat/completions", chat, key)[0] == 200
    wait_for("the key made in the browser to be served", served)
    wait_for("the request log to show the tenant's own key", lambda: "byok" in key_sources(admin, project))
    rows = browser("log", cp, owner, owner_password, project)["rows"]
    assert any("yours" in r and "gpt-4o" in r for r in rows), rows

    deleted = browser("delete-key", cp, owner, owner_password, project)
    assert not any("openai" in row for row in deleted["left"]), deleted

    def served_pooled():
        assert served()
        return "pooled" in key_sources(admin, project)
    wait_for("a request served on the pooled key", served_pooled)
    rows = browser("log", cp, owner, owner_password, project)["rows"]
    assert any("pooled" in r for r in rows) and any("yours" in r for r in rows), rows

    # The usage page draws its chart (uPlot, from the binary) and lists both key sources.
    usage = browser("usage", cp, owner, owner_password, project, acme, shots)
    assert usage["canvas"] >= 1, usage
    assert any("yours" in r for r in usage["rows"]) and any("pooled" in r for r in usage["rows"]), usage

    # A user of another tenant, added on the command line, cannot open the project.
    made = subprocess.run(
        [str(BIN_DIR / "warden-controlplane"), "user", "add", "--config", str(tmp / "controlplane.toml"),
         "--name", "gil", "--tenant", other, "--role", "owner"],
        capture_output=True, text=True, check=True,
    )
    gil_password = made.stdout.strip().rsplit(" ", 1)[-1]
    assert browser("visit", cp, "gil", gil_password, project, acme) == {"status": 404, "api": 404}
    assert browser("visit", cp, owner, owner_password, project, acme) == {"status": 200, "api": 200}

    # A form posted with a forged CSRF token is refused, and nothing is made.
    assert browser("forged", cp, owner, owner_password, project) == {"status": 403, "made": False}

    # The session ends session_max_s after signing in: the page sends the browser to sign in.
    ended = browser("expire", cp, owner, owner_password, project, str(SESSION_S + 1))
    assert ended["url"].endswith("/dashboard/login"), ended
