#!/usr/bin/env bash
# The whole test suite: formatting and lints, Rust unit tests, end-to-end tests that start the
# real binaries (on io_uring and on the epoll fallback), benches in test mode, and conformance
# with the official openai Python SDK. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true

cargo fmt --all -- --check
cargo build --workspace --bins
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
.venv/bin/python -m pytest -q tests/python
