"""The README's control-plane walkthrough, run as written: its shell block is taken from
README.md and run by bash in a scratch directory holding a copy of `config/`, with only the
binaries' directory changed (`target/release/` → WARDEN_BIN_DIR). A newcomer pastes the same
lines; this keeps them working (issue #16: it once failed at its first call; run as written it
also started the data plane before the control plane had written the key files it reads). It
binds the walkthrough's own ports, 7000, 8080 and 8081."""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile

from conftest import BIN_DIR, REPO


def walkthrough():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    found = [b for b in blocks if "warden-controlplane --config config/controlplane.toml &" in b]
    assert len(found) == 1, "the README has one control-plane walkthrough"
    return found[0]


def test_the_readme_control_plane_walkthrough_works_as_written():
    block = walkthrough().replace("target/release/", f"{BIN_DIR}/")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "config", pathlib.Path(tmp) / "config")
        script = "set -e\n" + block + "\nkill $(jobs -p)\nwait\n"
        # Its own process group: whatever happens, the servers it started go with it.
        proc = subprocess.Popen(["bash", "-c", script], cwd=tmp, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True,
                                env={**os.environ, "WARDEN_LOG": "warn"})
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        assert proc.returncode == 0, err[-4000:] + out[-4000:]
        assert re.search(r'"key":"wdn_[0-9a-f]{64}"', out), out
        assert '"fingerprint":"sha256:' in out and "sk-your-openai-key" not in out, out
        assert re.search(r'"acked_version":\d+', out) and '"enrolled":true' in out, out
        assert '"/admin/v1/tenants"' in out, out
