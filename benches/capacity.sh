#!/usr/bin/env bash
# Per-request cost at saturation and at one connection, side by side in one run (issue #20's
# table): an nginx `return 200` upstream answering a chat completion, then the same upstream
# directly, through nginx `proxy_pass` (keep-alive upstream), through Warden with the audit log
# off, through Warden (audit on, no guardrails), and through Warden with the quick start's
# guardrails. The target and the upstream share core TARGET_CORE; wrk runs alone on LOAD_CORE.
#
#   bash benches/capacity.sh [OUT_DIR]        # default benches/results/<date>-capacity
#
# Env: DURATION (s per saturation run, default 10), LAT_DURATION (s at one connection, 5),
# CONNS (32), ROUNDS (2: the best round is kept, as the figures on a shared VM vary),
# TARGET_CORE (0), LOAD_CORE (1), SHARDS (1), AUDIT_EXTRA (lines for the targets' [audit]); BASELINE_BIN and BASELINE_NAME add a row for
# another warden-dataplane binary (audit on, no guardrails), e.g. one built from an older commit;
# TRACED=1 adds a row with every request traced ([telemetry] sample_ratio 1.0, spans exported over
# OTLP/HTTP to an nginx sink that accepts them, on the target core too). API=responses sends the
# same prompt as a Responses request to /v1/responses, and the upstream answers a Responses
# object: Warden passes OpenAI's aliases through to OpenAI's own Responses API (screened and
# metered on the way; the nginx rows pass it through unchanged). CACHED=1 adds a row for a project with the
# exact answer cache on: after the check request fills it, every timed request is a hit (audited,
# the provider never asked). INJECTION (block) is the guarded row's `injection` action: `flag`
# scores every text the same way without refusing (the learned model scored this repetitive
# prompt near its threshold until features counted once per window, 2026-12-03: now 0.06).
# Needs wrk and nginx (installed with apt when missing) and a release build (made when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
LAT_DURATION=${LAT_DURATION:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-2}
TARGET_CORE=${TARGET_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
SHARDS=${SHARDS:-1}
OUT=${1:-benches/results/$(date -u +%Y-%m-%d)-capacity}

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null
  fi
done
[ -x target/release/warden-dataplane ] || cargo build --release -p warden-dataplane

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
mkdir -p "$OUT" "$work/logs"
: >"$OUT/rounds.log"

UP=19100 NGX=19101 SINK=19102 W_OFF=19110 W_ON=19120 W_G=19130 W_T=19150 W_C=19160
# A 1 KB prompt of ordinary prose (no PII: the guarded run pays for scanning, not redaction).
prompt=$(python3 -c 'import sys; w="the quarterly planning notes describe how teams share review duty and ship small changes often ".split(); print(" ".join(w[i % len(w)] for i in range(170))[:1024])')
API=${API:-chat}
case "$API" in
  chat) path=/v1/chat/completions
        body="{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"$prompt\"}]}" ;;
  responses) path=/v1/responses
        body="{\"model\":\"gpt-4o\",\"input\":\"$prompt\"}" ;;
  *) echo "API must be chat or responses" >&2; exit 2 ;;
esac
answer='{"id":"chatcmpl-1","object":"chat.completion","created":1764000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":256,"completion_tokens":1,"total_tokens":257}}'
if [ "$API" = responses ]; then
  answer='{"id":"resp_1","object":"response","created_at":1764000000,"status":"completed","model":"gpt-4o","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"ok","annotations":[]}]}],"usage":{"input_tokens":256,"input_tokens_details":{"cached_tokens":0},"output_tokens":1,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":257}}'
fi

cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  upstream up { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$UP;
    location / { default_type application/json; return 200 '$answer'; }
  }
  server {
    listen 127.0.0.1:$SINK;
    location / { default_type application/x-protobuf; return 200 ''; }
  }
  server {
    listen 127.0.0.1:$NGX;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
# One worker for both servers: the upstream and the proxy share the target core, as Warden does.
taskset -c "$TARGET_CORE" nginx -c "$work/nginx.conf" -p "$work" 2>/dev/null

dataplane_conf() { # port, audit on|off, guardrails on|off
  local port=$1 audit=$2 guard=$3
  cat <<CONF
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$((port + 1))"
shards = $SHARDS
state_dir = "$work/state-$port"
[audit]
enabled = $([ "$audit" = on ] && echo true || echo false)
${AUDIT_EXTRA:-}
[providers.openai]
base_url = "http://127.0.0.1:$UP/v1"
[[tenants]]
id = "bench"
plan = "team"
[[tenants.projects]]
id = "bench-prod"
environment = "production"
api_keys = ["wdn_capacity_bench_key_0123456789abcdef"]
provider_keys = [{ provider = "openai", key = "sk-capacity-bench" }]
CONF
  if [ "$guard" = on ]; then
    cat <<CONF
[tenants.projects.guardrails]
pii = "redact"
secrets = "block"
injection = "${INJECTION:-block}"
response_pii = "redact"
response_secrets = "redact"
CONF
  fi
}

start_warden() { # port audit guard [binary] [traced]
  dataplane_conf "$1" "$2" "$3" >"$work/w-$1.toml"
  if [ "${5:-}" = traced ]; then
    printf '[telemetry]\notlp_endpoint = "http://127.0.0.1:%s/v1/traces"\n' "$SINK" >>"$work/w-$1.toml"
  fi
  if [ "${5:-}" = cached ]; then
    printf '[tenants.projects.cache]\nmode = "exact"\n' >>"$work/w-$1.toml"
  fi
  taskset -c "$TARGET_CORE" "${4:-target/release/warden-dataplane}" --config "$work/w-$1.toml" \
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
start_warden $W_OFF off off
start_warden $W_ON on off
start_warden $W_G on on
W_B=19140
[ -n "${BASELINE_BIN:-}" ] && start_warden $W_B on off "$BASELINE_BIN"
[ -n "${TRACED:-}" ] && start_warden $W_T on off target/release/warden-dataplane traced
[ -n "${CACHED:-}" ] && start_warden $W_C on off target/release/warden-dataplane cached

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer wdn_capacity_bench_key_0123456789abcdef"
wrk.body = [[$body]]
LUA

# Every target must answer the request correctly before it is timed.
for port in $UP $NGX $W_OFF $W_ON $W_G ${BASELINE_BIN:+$W_B} ${TRACED:+$W_T} ${CACHED:+$W_C}; do
  code=$(curl -s -o "$work/check.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer wdn_capacity_bench_key_0123456789abcdef' -d "$body" "http://127.0.0.1:$port$path")
  if [ "$code" != 200 ] || ! grep -qE '"(content|text)":"ok"' "$work/check.json"; then
    echo "target on $port answered $code: $(cat "$work/check.json")" >&2
    exit 1
  fi
done

run_wrk() { # port conns seconds -> "req/s p50_us p99_us"
  taskset -c "$LOAD_CORE" wrk -t1 -c"$2" -d"$3"s --latency -s "$work/post.lua" \
    "http://127.0.0.1:$1$path" >"$work/wrk.out" 2>&1
  if grep -q "Non-2xx" "$work/wrk.out"; then
    echo "non-2xx answers from $1:" >&2
    cat "$work/wrk.out" >&2
    exit 1
  fi
  python3 - "$work/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def us(label):
    m = re.search(r"\s" + label + r"%\s+([\d.]+)(us|ms|s)\b", t)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
print(f"{rps:.0f} {us('50'):.0f} {us('99'):.0f}")
PY
}

names=("upstream directly" "nginx proxy_pass" "Warden, audit off" "Warden, audit on" "Warden, audit on, guardrails")
ports=($UP $NGX $W_OFF $W_ON $W_G)
if [ -n "${BASELINE_BIN:-}" ]; then
  names+=("${BASELINE_NAME:-baseline}, audit on")
  ports+=($W_B)
fi
if [ -n "${TRACED:-}" ]; then
  names+=("Warden, audit on, every request traced")
  ports+=($W_T)
fi
if [ -n "${CACHED:-}" ]; then
  names+=("Warden, audit on, exact cache hits")
  ports+=($W_C)
fi
declare -A best_rps best_p50 best_p99
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!ports[@]}"; do
    p=${ports[$i]}
    read -r rps _ p99 <<<"$(run_wrk "$p" "$CONNS" "$DURATION")"
    read -r _ p50 _ <<<"$(run_wrk "$p" 1 "$LAT_DURATION")"
    echo "round $round: ${names[$i]}: $rps req/s @ $CONNS conns (p99 ${p99} us), p50 ${p50} us @ 1 conn" | tee -a "$OUT/rounds.log" >&2
    if [ -z "${best_rps[$i]:-}" ] || [ "$rps" -gt "${best_rps[$i]}" ]; then best_rps[$i]=$rps; best_p99[$i]=$p99; fi
    if [ -z "${best_p50[$i]:-}" ] || [ "$p50" -lt "${best_p50[$i]}" ]; then best_p50[$i]=$p50; fi
  done
done

machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r)"
{
  echo "# Capacity: per-request cost, one shard ($path)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $machine. Target and its nginx \`return 200\` upstream pinned to core $TARGET_CORE;"
  echo "\`wrk -t1\` pinned to core $LOAD_CORE; 1 KB prompt; ${DURATION} s at $CONNS connections, ${LAT_DURATION} s at one"
  echo "connection; best of $ROUNDS rounds. Command: \`API=$API bash benches/capacity.sh\`."
  echo
  echo "| target | req/s @ $CONNS conns | vs nginx | p99 @ $CONNS conns | p50 @ 1 conn | added p50 vs direct |"
  echo "|---|---|---|---|---|---|"
  for i in "${!ports[@]}"; do
    ratio=$(python3 -c "print(f'{${best_rps[$i]}/${best_rps[1]}:.2f}x')")
    added=$(( best_p50[$i] - best_p50[0] ))
    echo "| ${names[$i]} | ${best_rps[$i]} | $ratio | ${best_p99[$i]} µs | ${best_p50[$i]} µs | +$added µs |"
  done
  echo
  echo "Audit on vs off: $(python3 -c "print(f'{${best_rps[3]}/${best_rps[2]}:.2f}x')") req/s."
  recs=$(curl -fsS "http://127.0.0.1:$((W_ON + 1))/metrics" | sed -n 's/^warden_audit_records_written_total //p')
  plain=$(for f in "$work/state-$W_ON"/audit/segment-*; do
    case "$f" in *.zst) zstd -dc "$f" ;; *) cat "$f" ;; esac; done | wc -c)
  stored=$(cat "$work/state-$W_ON"/audit/segment-* | wc -c)
  if [ -n "${TRACED:-}" ]; then
    spans=$(curl -fsS "http://127.0.0.1:$((W_T + 1))/metrics" | sed -n 's/^warden_trace_spans_\(exported\|dropped\|failed\)_total /\1 /p' | tr '\n' ' ')
    echo "Traced target's spans: $spans(counts at the end of the run)."
  fi
  if [ -n "${CACHED:-}" ]; then
    hits=$(curl -fsS "http://127.0.0.1:$((W_C + 1))/metrics" | sed -n 's/^warden_cache_lookups_total{result="\(hit\|miss\)"} /\1 /p' | tr '\n' ' ')
    echo "Cached target's lookups: $hits(the one miss is the check request that filled the entry)."
  fi
  echo "Audit log of the audit-on target: $recs records, $(python3 -c "print(round(2 * $plain / max($recs, 1)))") B per request plain (two records each), $(python3 -c "print(round(2 * $stored / max($recs, 1)))") B per request as stored ($(ls "$work/state-$W_ON"/audit/ | grep -c '\.zst$') of $(ls "$work/state-$W_ON"/audit/ | grep -c '^segment-') segments compressed by then)."
} | tee "$OUT/report.md"
