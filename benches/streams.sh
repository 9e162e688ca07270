#!/usr/bin/env bash
# Many long-lived SSE streams at once (issue #20): the memory one idle stream holds in the
# proxy, and the delay it adds to each event, side by side in one run — the mock provider
# directly, through nginx `proxy_pass` (proxy_buffering off, keep-alive upstream), through
# Warden (one shard, audit on) and through Warden with the quick start's guardrails (the
# response guard reads every delta), and through Warden on the epoll driver instead of io_uring.
# The proxy runs alone on TARGET_CORE; the mock and the
# client share LOAD_CORE. See loadtest/src/streams.rs for how each figure is taken.
#
#   bash benches/streams.sh [OUT_DIR]        # default benches/results/<date>-streams
#
# Env: STREAMS (10000), EVENTS per stream (12), INTERVAL_MS between events (5000),
# TARGET_CORE (0), LOAD_CORE (1).
# Needs nginx (installed with apt when missing) and a release build (made when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

STREAMS=${STREAMS:-10000}
EVENTS=${EVENTS:-12}
INTERVAL_MS=${INTERVAL_MS:-5000}
TARGET_CORE=${TARGET_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
OUT=${1:-benches/results/$(date -u +%Y-%m-%d)-streams}

command -v nginx >/dev/null 2>&1 ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
[ -x target/release/warden-dataplane ] && [ -x target/release/warden-loadtest ] ||
  cargo build --release -p warden-dataplane -p warden-loadtest
# Each stream is two connections in the proxy (client and provider side), one in the mock and
# one in the client: the proxy needs 2 × STREAMS descriptors and some to spare.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ $((STREAMS * 2 + 512)) -gt "$hard" ]; then
  echo "STREAMS=$STREAMS needs $((STREAMS * 2 + 512)) open files per process; this host allows $hard" >&2
  echo "(raise the hard limit, or run with STREAMS=$(((hard - 512) / 2)))" >&2
  exit 1
fi
ulimit -n "$hard"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
mkdir -p "$OUT" "$work/logs"

MOCK=19200 NGX=19201 W_ON=19210 W_G=19220 W_E=19230
KEY=wdn_streams_bench_key_0123456789abcdef

taskset -c "$LOAD_CORE" target/release/warden-loadtest mock --listen "127.0.0.1:$MOCK" --threads 1 \
  >"$work/logs/mock.out" 2>&1 &
pids+=($!)

cat >"$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $((STREAMS * 2 + 512));
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections $((STREAMS * 2 + 1024)); }
http {
  access_log off;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  upstream up { server 127.0.0.1:$MOCK; keepalive 64; }
  server {
    listen 127.0.0.1:$NGX;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
CONF
taskset -c "$TARGET_CORE" nginx -c "$work/nginx.conf" -p "$work" -e "$work/logs/error.log"

dataplane_conf() { # port, guardrails on|off
  cat <<CONF
listen = "127.0.0.1:$1"
admin_listen = "127.0.0.1:$(($1 + 1))"
shards = 1
state_dir = "$work/state-$1"
[limits]
max_connections_per_shard = $((STREAMS + 1000))
[providers.openai]
base_url = "http://127.0.0.1:$MOCK/v1"
[[tenants]]
id = "bench"
plan = "team"
[[tenants.projects]]
id = "bench-prod"
environment = "production"
api_keys = ["$KEY"]
provider_keys = [{ provider = "openai", key = "sk-streams-bench" }]
CONF
  if [ "$2" = on ]; then
    printf '[tenants.projects.guardrails]\npii = "redact"\nsecrets = "block"\ninjection = "block"\n'
    printf 'response_pii = "redact"\nresponse_secrets = "redact"\n'
  fi
}

start_warden() { # port guard [epoll]
  dataplane_conf "$1" "$2" >"$work/w-$1.toml"
  local legacy=0
  [ "${3:-}" = epoll ] && legacy=1
  MONOIO_FORCE_LEGACY_DRIVER=$legacy taskset -c "$TARGET_CORE" target/release/warden-dataplane --config "$work/w-$1.toml" \
    >"$work/logs/w-$1.out" 2>"$work/logs/w-$1.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$(($1 + 1))/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "warden on $1 did not become ready" >&2
  cat "$work/logs/w-$1.err" >&2
  exit 1
}
start_warden $W_ON off
W_ON_PID=${pids[-1]}
start_warden $W_G on
W_G_PID=${pids[-1]}
start_warden $W_E off epoll
W_E_PID=${pids[-1]}
sleep 0.5
NGX_WORKER=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)

run() { # name port pid|-
  local pid_flag=()
  [ "$3" != - ] && pid_flag=(--pid "$3")
  echo "== $1" >&2
  taskset -c "$LOAD_CORE" target/release/warden-loadtest streams --url "http://127.0.0.1:$2/v1/chat/completions" \
    --key "$KEY" --model gpt-4o --streams "$STREAMS" --events "$EVENTS" --interval-ms "$INTERVAL_MS" \
    "${pid_flag[@]}" --json "$OUT/$(echo "$1" | tr ' ,' '__').json"
}

run "mock directly" $MOCK -
run "nginx proxy_pass" $NGX "$NGX_WORKER"
run "Warden, audit on" $W_ON "$W_ON_PID"
run "Warden, audit on, guardrails" $W_G "$W_G_PID"
run "Warden, audit on, epoll" $W_E "$W_E_PID"

machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)"
python3 - "$OUT" "$machine" "$STREAMS" "$EVENTS" "$INTERVAL_MS" "$TARGET_CORE" "$LOAD_CORE" "$(date -u +%Y-%m-%dT%H:%MZ)" <<'PY'
import json, os, sys
out, machine, streams, events, interval, tcore, lcore, when = sys.argv[1:]
rows = [("mock directly", "mock_directly"), ("nginx proxy_pass", "nginx_proxy_pass"),
        ("Warden, audit on", "Warden__audit_on"), ("Warden, audit on, guardrails", "Warden__audit_on__guardrails"),
        ("Warden, audit on, epoll", "Warden__audit_on__epoll")]
data = {n: json.load(open(os.path.join(out, f + ".json"))) for n, f in rows}
base = data["mock directly"]["delay_us"]
lines = [
    "# Streams: memory per idle stream and added delay per event, one shard", "",
    f"{when}, {machine}. Proxy pinned to core {tcore}; the mock and the client share core {lcore}.",
    f"{streams} concurrent SSE streams, {events} events each, {interval} ms apart, stream starts spread over one interval.",
    "Command: `bash benches/streams.sh`.", "",
    "| target | opened | completed | errors | events | RSS per idle stream | delay p50 | p99 | p99.9 | added p50 | added p99 |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]
for name, _ in rows:
    r = data[name]
    d = r["delay_us"]
    rss = r.get("rss_per_stream_bytes")
    rss = f"{rss / 1024:.1f} KiB" if rss is not None else "—"
    lines.append(f"| {name} | {r['opened']} | {r['completed']} | {r['errors']} | {r['events']} | {rss} | "
                 f"{d['p50_us']} µs | {d['p99_us']} µs | {d['p999_us']} µs | "
                 f"{d['p50_us'] - base['p50_us']:+d} µs | {d['p99_us'] - base['p99_us']:+d} µs |")
open(os.path.join(out, "report.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
