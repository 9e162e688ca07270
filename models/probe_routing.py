"""A probe for a learned complexity router, run before building one: train a multinomial logistic
regression on the training corpora of models/routing_corpora.py and measure it on the
development set (MT-Bench, AlpacaEval's helpful_base) beside the shipped cue scorer.

    models/.venv/bin/python models/probe_routing.py [--binary target/debug/warden-dataplane]
                                                     [--model target/models/semantic]

Two feature sets: the injection model's hashed word and byte n-grams (`warden-dataplane guard
features`, 2^16 buckets, the distinct features of the first 2 KB) and the semantic cache's
static all-MiniLM-L6-v2 embedding (`warden-dataplane cache embed`; scripts/semantic-model.sh
makes the model). Each is trained on all training corpora and again without AlpacaEval, whose
prompts are the noisiest (called simple, many are writing requests). Sources weigh as much as
the square root of their size, tiers equally. Nothing here is shipped; the figures are in
docs/routing.md.

`--test` then measures, once, the candidate the development set chose (the static embedding
trained without AlpacaEval, C=0.3: the best mean accuracy per tier) on the held-out test set. Needs numpy, scipy, scikit-learn and reasoning-gym (models/requirements.txt).
"""

import argparse
import collections
import json
import sys

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

import corpora
import evaluate_routing
import probe_embedding
import routing_corpora as rc

BITS = 16
PREFIX = 2048


def ngrams(binary, prompts):
    rows = corpora.guard(binary, ["features", "--grams", "3,4,5", "--bits", str(BITS)],
                         [p.text[:PREFIX] for p in prompts])
    data, ri, ci = [], [], []
    for r, row in enumerate(rows):
        feats = sorted({i for block in row["blocks"] for i in block})
        if feats:
            data += [1.0 / np.sqrt(len(feats))] * len(feats)
            ri += [r] * len(feats)
            ci += feats
    return sp.csr_matrix((data, (ri, ci)), shape=(len(rows), 1 << BITS), dtype=np.float32)


def embeddings(binary, model, prompts):
    return np.array(probe_embedding.embed(binary, model, [p.text[:PREFIX] for p in prompts]),
                    dtype=np.float32)


def weights(train, keep):
    y = np.array([rc.TIERS.index(p.tier) for p in train])
    size = collections.Counter(p.source.split("/")[0] for p, k in zip(train, keep) if k)
    w = np.array([1 / np.sqrt(size[p.source.split("/")[0]]) if k else 0.0
                  for p, k in zip(train, keep)])
    for t in range(len(rc.TIERS)):
        w[y == t] /= max(w[y == t].sum(), 1e-12)
    return y, w * keep.sum() / len(rc.TIERS)


def show(name, dev, tiers):
    f = evaluate_routing.figures(dev, tiers)
    mt = [t == p.tier for p, t in zip(dev, tiers) if p.source.startswith("mt_bench")]
    print(f"{name:34} accuracy {f['accuracy']:.3f}  two or more off {f['two_or_more_off']:.3f}  "
          f"MT-Bench {sum(mt)}/{len(mt)}  per tier {f['per_tier']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/warden-dataplane")
    ap.add_argument("--model", default="target/models/semantic")
    ap.add_argument("--test", action="store_true",
                    help="also measure the development set's choice on the held-out test set")
    args = ap.parse_args()
    train, dev = rc.load_train(), rc.load_dev()
    print(f"{len(train)} training prompts, {len(dev)} development prompts", file=sys.stderr)
    show("shipped cue scorer", dev, evaluate_routing.route(args.binary, [p.text for p in dev]))
    features = {
        "n-grams": (ngrams(args.binary, train), ngrams(args.binary, dev)),
        "static embedding": (embeddings(args.binary, args.model, train),
                             embeddings(args.binary, args.model, dev)),
    }
    every = np.ones(len(train), bool)
    no_alpaca = np.array([not p.source.startswith("alpaca_eval") for p in train])
    for name, (xt, xd) in features.items():
        for corpus, keep in (("all", every), ("without AlpacaEval", no_alpaca)):
            y, w = weights(train, keep)
            for c in (0.3, 3.0):
                m = LogisticRegression(C=c, max_iter=5000).fit(xt[keep], y[keep],
                                                               sample_weight=w[keep])
                show(f"{name}, {corpus}, C={c}", dev, [rc.TIERS[i] for i in m.predict(xd)])
    if args.test:
        test = rc.load_test()
        y, w = weights(train, no_alpaca)
        xt = features["static embedding"][0]
        m = LogisticRegression(C=0.3, max_iter=5000).fit(xt[no_alpaca], y[no_alpaca],
                                                         sample_weight=w[no_alpaca])
        tiers = [rc.TIERS[i] for i in m.predict(embeddings(args.binary, args.model, test))]
        f = evaluate_routing.figures(test, tiers)
        print("held-out test, static embedding without AlpacaEval, C=0.3:",
              json.dumps({k: f[k] for k in ("accuracy", "two_or_more_off", "per_tier",
                                            "by_source")}))


if __name__ == "__main__":
    main()
