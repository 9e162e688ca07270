#!/usr/bin/env bash
# Install what building and testing Warden needs on a Debian machine, when it is missing:
# a C toolchain (ring, mimalloc and SQLite build C), pkg-config, Hyperscan (guardrails), and
# Python's venv for the SDK tests, Node and npm for the JavaScript client tests.
# Rust itself comes from rustup (https://rustup.rs); Debian's packaged rustc is too old.
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# Node and npm, for the JavaScript client tests (tests/js: the Vercel AI SDK).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Hyperscan, for the guardrails (linked through pkg-config).
pkg-config --exists libhs 2>/dev/null || missing+=(libhyperscan-dev)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust 1.88 or newer from https://rustup.rs and run again" >&2
  exit 1
fi
