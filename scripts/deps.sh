#!/usr/bin/env bash
# Install what building and testing Warden needs on a Debian machine, when it is missing:
# a C toolchain (ring, mimalloc and SQLite build C), pkg-config, Hyperscan (guardrails), and
# Python's venv for the SDK tests, Node and npm for the JavaScript client tests, Chromium for the
# dashboard's browser test, a Redis server
# on 127.0.0.1:6379 for the answer cache's shared tier, and a PostgreSQL server on 127.0.0.1:5432
# for the control plane's shared store (each started when none answers there).
# Rust itself comes from rustup (https://rustup.rs); Debian's packaged rustc is too old.
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# jq, which the README's control-plane walkthrough pipes the admin API's answers through.
command -v jq >/dev/null 2>&1 || missing+=(jq)
# Node and npm, for the JavaScript client tests (tests/js: the Vercel AI SDK).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Debian's Chromium, for the dashboard's browser test (tests/js/dashboard.mjs drives it with
# playwright-core; no browser is downloaded).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Hyperscan, for the guardrails (linked through pkg-config).
pkg-config --exists libhs 2>/dev/null || missing+=(libhyperscan-dev)
# Redis answering on 127.0.0.1:6379 (the cache's shared tier, tests/tests/cache.rs), and the
# redis-server binary itself (tests/tests/shared_limits.rs runs, kills and restarts its own).
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

# PostgreSQL answering on 127.0.0.1:5432: the store's tests run on it as well as on SQLite, as
# the role `postgres` from 127.0.0.1 without a password (WARDEN_TEST_POSTGRES names another
# server). Where no PostgreSQL was installed, Debian's is installed here and that one role is
# trusted from 127.0.0.1 (a CI or test machine); an existing server's settings are left alone.
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
pg_new=""
if ! pg_up && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  missing+=(postgresql)
  pg_new=1
fi
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! redis_up; then
  echo "starting redis-server on 127.0.0.1:6379" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
  for _ in $(seq 1 50); do
    redis_up && break
    sleep 0.1
  done
  redis_up || { echo "redis-server did not start on 127.0.0.1:6379" >&2; exit 1; }
fi

if ! pg_up; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  pg_lsclusters -h | grep -q . || $sudo pg_createcluster "$version" main >/dev/null
  read -r cluster_version cluster_name _ < <(pg_lsclusters -h | head -1)
  if [ -n "$pg_new" ]; then
    hba="/etc/postgresql/$cluster_version/$cluster_name/pg_hba.conf"
    $sudo sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  fi
  echo "starting PostgreSQL $cluster_version/$cluster_name on 127.0.0.1:5432" >&2
  $sudo pg_ctlcluster "$cluster_version" "$cluster_name" start
  for _ in $(seq 1 100); do
    pg_up && break
    sleep 0.1
  done
  pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust 1.88 or newer from https://rustup.rs and run again" >&2
  exit 1
fi
