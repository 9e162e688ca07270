"""Start the real binaries for SDK conformance tests: a mock provider and a gateway per I/O
driver, on ephemeral ports announced on stdout. Binaries come from WARDEN_BIN_DIR (default:
target/debug of this repository)."""

import os
import pathlib
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN_DIR = pathlib.Path(os.environ.get("WARDEN_BIN_DIR", REPO / "target" / "debug"))
WARDEN_KEY = "wdn_sdk_test_key_0123456789"
PROVIDER_KEY = "sk-sdk-provider-wxyz"
# The mock answers 401 for this provider key, in each provider's dialect.
REVOKED_KEY = "sk-sdk-revoked-0000"


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
io_uring_entries = 256

[providers.openai]
base_url = "http://{mock}/v1"

[[tenants]]
id = "sdk"
plan = "team"

[[tenants.projects]]
id = "sdk-prod"
api_keys = ["{warden_key}"]
provider_keys = [{{ provider = "openai", key = "{provider_key}" }}]
"""


@pytest.fixture(scope="session", params=["io_uring", "epoll"])
def gateway(request, mock):
    """The gateway's base URL (…/v1), once per I/O driver."""
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "dataplane.toml"
        path.write_text(
            CONFIG.format(
                state=pathlib.Path(tmp) / "state",
                mock=mock,
                warden_key=WARDEN_KEY,
                provider_key=PROVIDER_KEY,
            )
        )
        env = {"WARDEN_LOG": "warn"}
        if request.param == "epoll":
            env["MONOIO_FORCE_LEGACY_DRIVER"] = "1"
        proc, line = _start([str(BIN_DIR / "warden-dataplane"), "--config", str(path)], env)
        yield f"http://{_addr_after(line, 'listening on http://')}/v1"
        proc.terminate()
        proc.wait(timeout=30)
