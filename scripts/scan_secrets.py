#!/usr/bin/env python3
"""Look through everything the test suites left under WARDEN_SCAN_DIR — every log, audit
segment and ring, last good snapshot, control-plane store, every response a Rust test read
(error bodies, metrics pages, answers), the Python SDK suite's gateway directories and every
response it read (python-responses-*.log: the SDKs', status, headers, body, streams included, and
the tests' own calls through urllib and requests), every response the dashboard's browser
received (browser-responses.log) and every one the Vercel AI SDK read (node-responses.log) — for
the provider keys and Warden keys the tests used.
Any hit is a leak: exit 1 naming the file and the key's last 4 characters.

The keys come from the suite itself: the `api_keys` and provider `key`s of every data-plane
config the tests wrote (kept beside their output), and every `"key": "..."` and `"sk-…"` literal the
test sources post to the control plane's admin API, and the `sk-…` / `wdn_…` literals of the
Python SDK suite. Not scanned, on purpose: those configs (they are the
input), the mock provider's capture files (what a provider received, prompts included, keys
masked to their last 4), and the key and token files that exist to hold a secret.

    python3 scripts/scan_secrets.py DIR
"""

import pathlib
import re
import sys
import tomllib

root = pathlib.Path(sys.argv[1])
repo = pathlib.Path(__file__).resolve().parents[1]

keys = set()
for cfg in root.rglob("*.toml"):
    try:
        doc = tomllib.loads(cfg.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        continue
    for tenant in doc.get("tenants", []):
        for project in tenant.get("projects", []):
            keys.update(project.get("api_keys", []))
            keys.update(k["key"] for k in project.get("provider_keys", []) if "key" in k)
    keys.update(k["key"] for k in doc.get("pooled_keys", []) if "key" in k)
for src in (repo / "tests").rglob("*.rs"):
    text = src.read_text()
    keys.update(re.findall(r'"key":\s*"([^"\\]{8,})"', text))
    # Provider keys handed to helpers (`project_with_keys("sk-…")`).
    keys.update(re.findall(r'"(sk-[A-Za-z0-9_-]{8,})"', text))
for src in (repo / "tests" / "python").rglob("*.py"):
    keys.update(re.findall(r'"((?:sk|wdn)[-_][A-Za-z0-9_-]{8,})"', src.read_text()))
# Short placeholder values would match by chance; every real test key is longer.
keys = {k for k in keys if len(k) >= 12}
if not keys:
    sys.exit("no keys found: nothing was scanned (did the suite run with WARDEN_SCAN_DIR?)")

SKIP_NAMES = {"capture.jsonl", "admin-token", "dataplane-token", "dataplane.credential",
              "master.key", "master.key.previous", "snapshot-signing.key", "audit.key",
              "dataplane-credential.key", "master_key"}
needles = [(k, k.encode()) for k in sorted(keys)]
scanned, hits = 0, []
for path in root.rglob("*"):
    if not path.is_file() or path.suffix == ".toml" or path.name in SKIP_NAMES:
        continue
    data = path.read_bytes()
    scanned += 1
    for key, needle in needles:
        if needle in data:
            hits.append((path, key))
print(f"scanned {scanned} files for {len(keys)} keys")
for path, key in hits:
    print(f"LEAK: a key ending …{key[-4:]} in {path}")
sys.exit(1 if hits else 0)
