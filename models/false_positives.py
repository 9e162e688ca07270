"""False positives of the injection model on benign requests from elsewhere.

    python3 models/false_positives.py [--binary target/debug/warden-dataplane] [--model FILE]
                                      [--threshold T]

The injection corpora's benign side is what their authors wrote around attacks; what users send
an assistant looks different: instruction-following, writing and coding requests full of
imperatives and rules. This scores four sets of such requests that no training run reads —
IFBench's 300 prompts, MT-Bench's 80 first turns, AlpacaEval's helpful_base questions and
AgentBench's OS tasks (the routing corpora's wheels, models/routing_corpora.py) — with the data
plane's own scorer (`guard scan`), and counts those at or over the user threshold (default: the
built-in model's; flagged) and over its user block threshold (blocked by
`injection = "block"`). A development measure: candidates are checked on it before
bastioncorpus is read (docs/guardrails.md).
"""

import argparse
import collections
import json
import os

import corpora
import evaluate
import routing_corpora

SETS = ("ifbench", "mt_bench", "alpaca_eval/helpful_base", "agent_bench_os")


def requests():
    routing_corpora.gym = lambda: []  # reasoning-gym's puzzles are not among the sets
    out = []
    for p in routing_corpora.load_train() + routing_corpora.load_dev():
        name = next((s for s in SETS if p.source == s or p.source.startswith(s + "/")), None)
        if name:
            out.append((name, p.text))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/warden-dataplane")
    ap.add_argument("--model", help="a model file train.py wrote, to score with instead of the "
                    "binary's built-in model (and whose user threshold to apply)")
    ap.add_argument("--threshold", type=float,
                    help="user threshold to count flags from (default: the model's)")
    ap.add_argument("--json", help="write the figures here as JSON")
    args = ap.parse_args()
    model = evaluate.thresholds(args.model or os.path.join(corpora.HERE, "injection.bin"))
    threshold = model["user"] if args.threshold is None else args.threshold
    rows = requests()
    scores = evaluate.scores(args.binary, [text for _, text in rows], args.model)
    block = model["user_block"]
    by = collections.defaultdict(lambda: [0, 0, 0])
    for (name, _), score in zip(rows, scores):
        by[name][0] += score >= threshold
        by[name][1] += score >= block
        by[name][2] += 1
    print(f"{'':26} flagged  blocked")
    for name in SETS:
        print(f"{name:26} {by[name][0]:4}/{by[name][2]} {by[name][1]:4}/{by[name][2]}")
    flagged, blocked, total = (sum(v[i] for v in by.values()) for i in range(3))
    print(f"{'all':26} {flagged:4}/{total} = {flagged / total:.3f} at {threshold:.4f}, "
          f"{blocked}/{total} = {blocked / total:.3f} at {block:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threshold": threshold, "block_threshold": block, "flagged": flagged,
                       "blocked": blocked, "requests": total,
                       "by_set": {name: {"flagged": by[name][0], "blocked": by[name][1],
                                         "requests": by[name][2]} for name in SETS}},
                      f, indent=2)

if __name__ == "__main__":
    main()
