"""Start the real binaries for SDK conformance tests: a mock provider and a gateway per I/O
driver, on ephemeral ports announced on stdout. Binaries come from WARDEN_BIN_DIR (default:
target/debug of this repository)."""

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN_DIR = pathlib.Path(os.environ.get("WARDEN_BIN_DIR", REPO / "target" / "debug"))
WARDEN_KEY = "wdn_sdk_test_key_0123456789"
PROVIDER_KEY = "sk-sdk-provider-wxyz"
# The mock answers 401 for this provider key, in each provider's dialect.
REVOKED_KEY = "sk-sdk-revoked-0000"
# A Warden key whose project only has revoked provider keys.
REVOKED_WARDEN_KEY = "wdn_sdk_revoked_project_key"
# A Warden key whose project runs guardrails.
GUARDED_KEY = "wdn_sdk_guarded_project_key"
# A Warden key whose project sends placeholders upstream and leaves them in the answer.
REDACT_KEY = "wdn_sdk_redact_project_key"
# A Warden key whose project caches answers (exact) and restores PII.
CACHED_KEY = "wdn_sdk_cached_project_key"
# A Warden key whose project refuses what no guardrail reads (images, PDFs, audio, files).
STRICT_KEY = "wdn_sdk_strict_project_key"

ALIASES = [
    "gpt-4o", "gpt-4o-mini", "o3", "o3-mini",
    "claude-4-sonnet", "claude-3-5-sonnet",
    "gemini-2.0-flash",
    "llama-3.3-70b-versatile",
    "deepseek-chat", "deepseek-reasoner",
]

# The built-in embedding aliases, and one of an OpenAI-compatible provider added by config.
EMBEDDING_ALIASES = [
    "text-embedding-3-small", "text-embedding-3-large", "gemini-embedding-001", "groq-embed",
]


def keep_for_scan(tmp):
    """Under WARDEN_SCAN_DIR (scripts/test.sh), keep what a gateway wrote — its config, audit log,
    snapshot — for scripts/scan_secrets.py (audit rings are left out: 16 MiB of mostly zeros)."""
    scan = os.environ.get("WARDEN_SCAN_DIR")
    if scan:
        shutil.copytree(
            tmp, pathlib.Path(scan) / f"python-{pathlib.Path(tmp).name}",
            ignore=shutil.ignore_patterns("*.map"),
        )


def pytest_configure(config):
    """Under WARDEN_SCAN_DIR, keep every response any SDK read — status, headers and body bytes as
    they came off the wire, error bodies and streams included — in python-responses-WORKER.log
    for scripts/scan_secrets.py. Every SDK here speaks through httpx2, and every way of reading a
    body (read, iter_bytes, iter_lines, the async forms) goes through iter_raw / aiter_raw; the
    tests' own calls through the standard library are kept below."""
    scan = os.environ.get("WARDEN_SCAN_DIR")
    if not scan:
        return
    import threading

    import httpx2

    # One file per pytest-xdist worker (scripts/test.sh runs the suite on several).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log = pathlib.Path(scan) / f"python-responses-{worker}.log"
    lock = threading.Lock()

    def keep(response, chunks):
        head = [f"{response.request.method} {response.request.url} -> {response.status_code}"]
        head += [f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in response.headers.raw]
        with lock, open(log, "ab") as f:
            f.write("\n".join(head).encode() + b"\n\n" + b"".join(chunks) + b"\n\n")

    sync_raw, async_raw = httpx2.Response.iter_raw, httpx2.Response.aiter_raw

    def iter_raw(self, chunk_size=None):
        chunks = []
        try:
            for chunk in sync_raw(self, chunk_size):
                chunks.append(chunk)
                yield chunk
        finally:
            keep(self, chunks)

    async def aiter_raw(self, chunk_size=None):
        chunks = []
        try:
            async for chunk in async_raw(self, chunk_size):
                chunks.append(chunk)
                yield chunk
        finally:
            keep(self, chunks)

    httpx2.Response.iter_raw, httpx2.Response.aiter_raw = iter_raw, aiter_raw
    _keep_stdlib_responses(log, lock)


def _keep_stdlib_responses(log, lock):
    """The same for every response read through the standard library's http.client: the tests'
    own admin-API and metrics calls (urllib) and Schemathesis (requests, over urllib3). A
    response's bytes are gathered across its reads and written whole when it closes or reaches
    its end, so a key split over two reads is still found."""
    import http.client

    cls = http.client.HTTPResponse

    def note(self, data):
        if data and not getattr(self, "_scan_depth", 0):
            self.__dict__.setdefault("_scan_kept", bytearray()).extend(data)

    def flush(self):
        kept = self.__dict__.pop("_scan_kept", None)
        if kept is None:
            return
        head = [f"{self.status} {self.reason}"] + [f"{k}: {v}" for k, v in self.getheaders()]
        with lock, open(log, "ab") as f:
            f.write("\n".join(head).encode(errors="replace") + b"\n\n" + bytes(kept) + b"\n\n")

    def reading(method):
        def wrapper(self, *args):
            self._scan_depth = getattr(self, "_scan_depth", 0) + 1
            try:
                out = method(self, *args)
            finally:
                self._scan_depth -= 1
            if isinstance(out, int):
                note(self, bytes(memoryview(args[0])[:out]))
            else:
                note(self, out)
            if not self._scan_depth and self.__dict__.pop("_scan_ended", False):
                flush(self)
            return out
        return wrapper

    for name in ("read", "read1", "readline", "readinto"):
        setattr(cls, name, reading(getattr(cls, name)))
    close_conn = cls._close_conn

    def _close_conn(self):
        # A read that reaches the end closes before it returns: its bytes are noted after.
        try:
            close_conn(self)
        finally:
            if getattr(self, "_scan_depth", 0):
                self._scan_ended = True
            else:
                flush(self)

    # A response dropped before its end is closed by io's finalizer, which comes here too.
    cls._close_conn = _close_conn


def _start(args, env=None):
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError(f"{args[0]} exited before announcing its address")
    return proc, line


def _addr_after(line, marker):
    rest = line[line.index(marker) + len(marker):]
    return rest.split()[0].rstrip(",)")


@pytest.fixture(scope="session")
def mock():
    proc, line = _start(
        [
            str(BIN_DIR / "warden-loadtest"), "mock", "--listen", "127.0.0.1:0",
            "--key-status", f"{REVOKED_KEY}=401",
        ]
    )
    yield _addr_after(line, "http://")
    proc.kill()
    proc.wait()


CONFIG = """
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
shards = 2
state_dir = "{state}"
audit_ring_dir = "{state}/audit-rings"
io_uring_entries = 256

[providers.openai]
base_url = "http://{mock}/v1"
[providers.anthropic]
base_url = "http://{mock}"
[providers.google]
base_url = "http://{mock}"
[providers.groq]
base_url = "http://{mock}/openai/v1"
[providers.deepseek]
base_url = "http://{mock}"

# Gemini 3 signs its function calls (thought signatures) and wants them back next turn.
[[models]]
alias = "gemini-3-pro"
provider = "google"
upstream_model = "gemini-3-pro-preview"

[[models]]
alias = "groq-embed"
provider = "groq"
upstream_model = "nomic-embed-text-v1.5"
kind = "embedding"

[[tenants]]
id = "sdk"
plan = "team"

[[tenants.projects]]
id = "sdk-prod"
api_keys = ["{warden_key}"]
provider_keys = [
  {{ provider = "openai", key = "{provider_key}" }},
  {{ provider = "anthropic", key = "{provider_key}" }},
  {{ provider = "google", key = "{provider_key}" }},
  {{ provider = "groq", key = "{provider_key}" }},
  {{ provider = "deepseek", key = "{provider_key}" }},
]

# Guardrails: PII goes upstream as placeholders and comes back restored; secrets and
# injections are refused.
[[tenants.projects]]
id = "sdk-guarded"
api_keys = ["{guarded_key}"]
provider_keys = [
  {{ provider = "openai", key = "{provider_key}" }},
  {{ provider = "anthropic", key = "{provider_key}" }},
  {{ provider = "google", key = "{provider_key}" }},
]
[tenants.projects.guardrails]
pii = "restore"
secrets = "block"
injection = "block"
response_secrets = "redact"
# The operator's own detectors: employee ids restored like PII (and redacted when the
# provider makes one up); a project codename refused.
[[tenants.projects.guardrails.custom]]
id = "employee_id"
pattern = '\\bEMP-\\d{{6}}\\b'
action = "restore"
response_action = "redact"
[[tenants.projects.guardrails.custom]]
id = "codename"
pattern = 'project (?:falcon|osprey)'
caseless = true
action = "block"

# PII is redacted: the provider, and so the mock's echo, sees placeholders only.
[[tenants.projects]]
id = "sdk-redact"
api_keys = ["{redact_key}"]
provider_keys = [
  {{ provider = "openai", key = "{provider_key}" }},
]
[tenants.projects.guardrails]
pii = "redact"

# Answers are cached (exact); PII goes upstream as placeholders and comes back restored.
[[tenants.projects]]
id = "sdk-cached"
api_keys = ["{cached_key}"]
provider_keys = [
  {{ provider = "openai", key = "{provider_key}" }},
  {{ provider = "anthropic", key = "{provider_key}" }},
  {{ provider = "google", key = "{provider_key}" }},
]
[tenants.projects.guardrails]
pii = "restore"
[tenants.projects.cache]
mode = "exact"
ttl_s = 600

# Images, PDFs, audio and files by reference are refused: no guardrail reads them.
[[tenants.projects]]
id = "sdk-strict"
api_keys = ["{strict_key}"]
provider_keys = [
  {{ provider = "openai", key = "{provider_key}" }},
  {{ provider = "anthropic", key = "{provider_key}" }},
  {{ provider = "google", key = "{provider_key}" }},
]
[tenants.projects.guardrails]
pii = "redact"
unscanned = "block"

# Every provider rejects this project's keys (the mock answers 401 for them).
[[tenants.projects]]
id = "sdk-revoked"
api_keys = ["{revoked_warden_key}"]
provider_keys = [
  {{ provider = "openai", key = "{revoked}" }},
  {{ provider = "anthropic", key = "{revoked}" }},
  {{ provider = "google", key = "{revoked}" }},
  {{ provider = "groq", key = "{revoked}" }},
  {{ provider = "deepseek", key = "{revoked}" }},
]
"""


class Gateway(str):
    """The gateway's root URL; `.v1` is the OpenAI base URL."""

    @property
    def v1(self):
        return f"{self}/v1"


def config_text(tmp, mock):
    """CONFIG for a gateway whose state lives in `tmp`, in front of `mock`."""
    return CONFIG.format(
        state=pathlib.Path(tmp) / "state",
        mock=mock,
        warden_key=WARDEN_KEY,
        provider_key=PROVIDER_KEY,
        revoked_warden_key=REVOKED_WARDEN_KEY,
        guarded_key=GUARDED_KEY,
        redact_key=REDACT_KEY,
        cached_key=CACHED_KEY,
        strict_key=STRICT_KEY,
        revoked=REVOKED_KEY,
    )


def start_gateway(tmp, mock, extra="", env=None):
    """Start a gateway in `tmp` in front of `mock` (its config: CONFIG, then `extra`).
    Returns (process, Gateway)."""
    path = pathlib.Path(tmp) / "dataplane.toml"
    path.write_text(config_text(tmp, mock) + extra)
    proc, line = _start(
        [str(BIN_DIR / "warden-dataplane"), "--config", str(path)],
        {"WARDEN_LOG": "warn", **(env or {})},
    )
    return proc, Gateway(f"http://{_addr_after(line, 'listening on http://')}")


@pytest.fixture(scope="session", params=["io_uring", "epoll"])
def gateway(request, mock):
    """A gateway in front of the mock for every provider, once per I/O driver."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"MONOIO_FORCE_LEGACY_DRIVER": "1"} if request.param == "epoll" else {}
        proc, gateway = start_gateway(tmp, mock, env=env)
        yield gateway
        proc.terminate()
        proc.wait(timeout=30)
        keep_for_scan(tmp)
