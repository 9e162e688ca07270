"""Measure the shipped injection model on the held-out corpus: bastioncorpus (PyPI, MIT), which
no part of training or tuning reads.

    python3 models/evaluate.py [--binary target/debug/warden-dataplane] [--json OUT]

Scores every row with `warden-dataplane guard scan` (the data plane's own scorer, obfuscation
variants included) and applies the model's default thresholds the way the data plane does: the
user threshold to user input, the tool threshold to tool output and memory (retrieved content).
Prints recall and false-positive rate overall, per channel, per category and per language, and
how many of them `injection = "block"` blocks by default (user input from the model's user
block threshold; under it, down to the user threshold, flagged).
"""

import argparse
import collections
import json
import os
import struct
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpora  # noqa: E402

HELD_OUT = ("bastioncorpus", "0.6.0", "MIT")


def held_out_rows(path=None):
    if path:
        with open(path, encoding="utf-8") as f:
            return [json.loads(l) for l in f if l.strip()]
    corpora.SOURCES.append(HELD_OUT)
    try:
        corpora.fetch()
    finally:
        corpora.SOURCES.remove(HELD_OUT)
    wheel = zipfile.ZipFile(corpora.wheel_path(HELD_OUT[0], HELD_OUT[1]))
    data = wheel.read("bastioncorpus/corpus/injections.jsonl").decode()
    return [json.loads(l) for l in data.splitlines() if l.strip()]


def extra_rows(name):
    """An extra corpus (corpora.EXTRA_SOURCES) in the held-out corpus's shape, its source as the
    category: for a model that was not trained on it, text from elsewhere too."""
    return [{"text": e.text, "label": "malicious" if e.label else "benign",
             "channel": "user_input" if e.channel == "user" else "tool_output",
             "category": e.source, "lang": "-"} for e in corpora.load_extra(name)]


def thresholds(model):
    """The default thresholds in a model file's header: version 1, 2 (with its n-gram sizes) or
    3 (and the user block threshold; before version 3 user input is blocked from the user
    threshold)."""
    with open(model, "rb") as f:
        header = f.read(36)
    magic, version = struct.unpack("<4sI", header[:8])
    if magic != b"WDNI" or version not in (1, 2, 3):
        raise SystemExit(f"{model}: not a version 1, 2 or 3 injection model")
    at = 12 if version == 1 else 16
    _, _, user, tool = struct.unpack("<4f", header[at:at + 16])
    block = struct.unpack("<f", header[32:36])[0] if version == 3 else user
    return {"user": user, "tool": tool, "user_block": block}


def scores(binary, texts, model=None):
    """The data plane's scores; with `model`, those of that model file, not the built-in one."""
    command = ["scan", "--injection-model", model] if model else ["scan"]
    return [r["injection_score"] for r in corpora.guard(binary, command, texts)]


def channel(row):
    return "user" if row["channel"] == "user_input" else "tool"


def measure(rows, flagged):
    out = {}
    for key in ("all", "channel", "category", "lang"):
        groups = collections.defaultdict(lambda: [0, 0, 0, 0])
        for r, hit in zip(rows, flagged):
            k = "all" if key == "all" else r[key]
            g = groups[k]
            if r["label"] == "malicious":
                g[0] += hit
                g[1] += 1
            else:
                g[2] += hit
                g[3] += 1
        out[key] = {k: {"caught": g[0], "attempts": g[1],
                        "recall": round(g[0] / g[1], 3) if g[1] else None,
                        "false_positives": g[2], "benign": g[3],
                        "fpr": round(g[2] / g[3], 3) if g[3] else None}
                    for k, g in sorted(groups.items())}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/warden-dataplane")
    ap.add_argument("--model", help="a model file to score with and take the thresholds of "
                    "(default: the binary's built-in model, models/injection.bin's thresholds)")
    ap.add_argument("--json", help="write the figures here as JSON")
    ap.add_argument("--corpus", help="the corpus file (default: from the pinned wheel)")
    ap.add_argument("--extra", choices=sorted(corpora.EXTRA_SOURCES),
                    help="measure on this extra corpus instead of bastioncorpus")
    args = ap.parse_args()
    rows = extra_rows(args.extra) if args.extra else held_out_rows(args.corpus)
    t = thresholds(args.model or os.path.join(corpora.HERE, "injection.bin"))
    s = scores(args.binary, [r["text"] for r in rows], args.model)
    flagged = [int(score >= t[channel(r)]) for r, score in zip(rows, s)]
    corpus = "%s %s" % (corpora.EXTRA_SOURCES[args.extra][:2] if args.extra else HELD_OUT[:2])
    report = {"corpus": corpus, "thresholds": t, **measure(rows, flagged)}
    block_at = {"user": t["user_block"], "tool": t["tool"]}
    blocked = measure(rows, [int(score >= block_at[channel(r)]) for r, score in zip(rows, s)])
    report["blocked"] = {"all": blocked["all"], "channel": blocked["channel"]}
    for key in ("all", "channel", "category", "lang"):
        for k, v in report[key].items():
            print(f"{key:9} {k:24} recall {v['caught']:3}/{v['attempts']:<3} "
                  f"false positives {v['false_positives']:2}/{v['benign']}", file=sys.stderr)
    for key in ("all", "channel"):
        for k, v in report["blocked"][key].items():
            print(f"blocked   {k:24} recall {v['caught']:3}/{v['attempts']:<3} "
                  f"false positives {v['false_positives']:2}/{v['benign']}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
