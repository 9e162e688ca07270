#!/usr/bin/env bash
# Quick start: build Warden, start the bundled mock provider and the gateway on localhost with
# config/quickstart.toml, and print a request to try. Ctrl-C stops both.
# Use another config with: scripts/run.sh path/to/dataplane.toml (no mock is started then).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cargo build --release --bins

config="${1:-config/quickstart.toml}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ $# -eq 0 ]; then
  ./target/release/warden-loadtest mock --listen 127.0.0.1:9000 &
  pids+=($!)
fi
./target/release/warden-dataplane --config "$config" &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:8081/readyz >/dev/null 2>&1 && break
  sleep 0.1
done

if [ $# -eq 0 ]; then
cat <<'TXT'

Warden is serving on http://127.0.0.1:8080 (metrics: http://127.0.0.1:8081/metrics).
Try:

  curl -s http://127.0.0.1:8080/v1/chat/completions \
    -H 'Authorization: Bearer wdn_demo_key_0123456789abcdef' -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello, Warden"}]}'

  curl -sN http://127.0.0.1:8080/v1/chat/completions \
    -H 'Authorization: Bearer wdn_demo_key_0123456789abcdef' -H 'Content-Type: application/json' \
    -d '{"model":"claude-4-sonnet","stream":true,"messages":[{"role":"user","content":"one two three mock:chunks=3 mock:delay_ms=300"}]}'

  # Guardrails: the provider (and the answer) see [EMAIL_1], not the address.
  curl -s http://127.0.0.1:8080/v1/chat/completions \
    -H 'Authorization: Bearer wdn_demo_key_0123456789abcdef' -H 'Content-Type: application/json' \
    -d '{"model":"gemini-2.0-flash","messages":[{"role":"user","content":"Mail jane.doe@example.com"}]}'

  # Audit log: what went through, with ids and fingerprints, never keys.
  target/release/warden-dataplane audit tail data/dataplane/audit -n 2

TXT
fi
wait -n "${pids[@]}"
