"""Warden's PII detectors side by side with Presidio's pattern recognizers, on one corpus, in one run.

    python3 benches/presidio/compare.py [--corpus FILE] [--rounds N] [--out DIR]

What it does:
- Installs presidio-analyzer (pinned below) into its own venv, `.venv-presidio`, on first use and
  re-runs itself there. Presidio's recognizers are called directly — no AnalyzerEngine, no spaCy
  model download, no context enhancement — which is Presidio's pattern layer, the part comparable
  to Warden's. The email recognizer's public-suffix check uses tldextract's bundled list (no
  network fetch).
- Builds `warden-dataplane` in release mode (unless --warden names a binary) and runs
  `warden-dataplane guard scan` over the same texts: Warden scans with every built-in detector
  (PII, secrets, injection and content-safety signals), Presidio with its seven recognizers for
  the entities both have.
- Scores each side per entity against the corpus labels: a finding is a true positive when its
  text equals a labelled value of the same entity ("exact"), or overlaps one ("overlap", which
  forgives a boundary differing by a character). Presidio's results count at its default score
  threshold (every result), and again at score >= 0.5.
- Times only the scanning on each side (best of N rounds over the whole corpus, in process).
- Writes DIR/presidio.json and DIR/presidio.md (machine, commit, date, method, tables) and prints
  the Markdown.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from own_venv import rerun_inside  # noqa: E402
import time

PRESIDIO = "presidio-analyzer==2.2.366"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.path.join(ROOT, ".venv-presidio")

# Corpus detector ids (Warden's) -> the entity both tools name.
ENTITY = {
    "email": "EMAIL_ADDRESS",
    "payment_card": "CREDIT_CARD",
    "us_ssn": "US_SSN",
    "us_itin": "US_ITIN",
    "iban": "IBAN_CODE",
    "ipv4": "IP_ADDRESS",
    "ipv6": "IP_ADDRESS",
    "phone": "PHONE_NUMBER",
    "phone_e164": "PHONE_NUMBER",
    "phone_us": "PHONE_NUMBER",
    "phone_uk": "PHONE_NUMBER",
    "phone_de": "PHONE_NUMBER",
    "phone_fr": "PHONE_NUMBER",
    "phone_in": "PHONE_NUMBER",
}


def ensure_presidio():
    rerun_inside(VENV, PRESIDIO, "presidio_analyzer", __file__)


def presidio_recognizers():
    import tldextract

    # The email recognizer validates the domain with tldextract; keep it off the network.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsItinRecognizer,
        UsSsnRecognizer,
    )

    return [
        EmailRecognizer(),
        CreditCardRecognizer(),
        UsSsnRecognizer(),
        UsItinRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        PhoneRecognizer(),
    ]


def run_presidio(texts, rounds):
    recognizers = presidio_recognizers()
    best, results = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter_ns()
        found = []
        for text in texts:
            spans = []
            for r in recognizers:
                for res in r.analyze(text, r.supported_entities, None):
                    spans.append((res.entity_type, res.start, res.end, res.score))
            found.append(spans)
        best = min(best, time.perf_counter_ns() - started)
        results = found
    return results, best


def run_warden(binary, corpus, rounds):
    p = subprocess.run(
        [binary, "guard", "scan", "--repeat", str(rounds), corpus],
        capture_output=True,
        text=True,
        check=True,
    )
    timing = json.loads(p.stderr.strip().splitlines()[-1])
    found = []
    for line, text in zip(p.stdout.splitlines(), TEXTS):
        spans = []
        raw = text.encode()
        for f in json.loads(line)["findings"]:
            entity = ENTITY.get(f["detector"])
            if entity:
                # Byte offsets to character offsets, as Presidio reports them.
                start = len(raw[: f["start"]].decode())
                end = start + len(raw[f["start"] : f["end"]].decode())
                spans.append((entity, start, end, 1.0))
        found.append(spans)
    return found, timing["scan_ns"]


def gold_spans(text, labels):
    spans, taken = [], set()
    for label in labels:
        entity, value = ENTITY.get(label["detector"]), label.get("value")
        if not entity or not value:
            continue
        at = text.find(value)
        while at in taken:
            at = text.find(value, at + 1)
        if at < 0:
            raise SystemExit(f"labelled value {value!r} not in {text!r}")
        taken.add(at)
        spans.append((entity, at, at + len(value)))
    return spans


def score(predicted, gold, overlap, min_score=0.0):
    tally = {}
    for pred, want in zip(predicted, gold):
        pred = [p for p in pred if p[3] >= min_score]
        used = set()
        for entity, s, e, _ in pred:
            t = tally.setdefault(entity, [0, 0, 0])
            hit = None
            for i, (ge, gs, gend) in enumerate(want):
                if i in used or ge != entity:
                    continue
                if (s == gs and e == gend) or (overlap and s < gend and gs < e):
                    hit = i
                    break
            if hit is None:
                t[1] += 1
            else:
                used.add(hit)
                t[0] += 1
        for i, (ge, _, _) in enumerate(want):
            if i not in used:
                tally.setdefault(ge, [0, 0, 0])[2] += 1
    out = {}
    for entity, (tp, fp, fn) in sorted(tally.items()):
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[entity] = {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}
    return out


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}


def main():
    global TEXTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "corpus", "corpus.jsonl"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "results"))
    ap.add_argument("--warden", help="a built warden-dataplane binary (default: build release)")
    args = ap.parse_args()
    ensure_presidio()

    binary = args.warden
    if not binary:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "warden-dataplane", "--bin", "warden-dataplane"],
            cwd=ROOT,
            check=True,
        )
        binary = os.path.join(ROOT, "target", "release", "warden-dataplane")

    items = [json.loads(l) for l in open(args.corpus) if l.strip()]
    TEXTS = [i["text"] for i in items]
    gold = [gold_spans(i["text"], i["labels"]) for i in items]
    nbytes = sum(len(t.encode()) for t in TEXTS)

    warden, warden_ns = run_warden(binary, args.corpus, args.rounds)
    presidio, presidio_ns = run_presidio(TEXTS, args.rounds)

    entities = sorted({g[0] for spans in gold for g in spans})
    sides = {
        "warden": {m: score(warden, gold, m == "overlap") for m in ("exact", "overlap")},
        "presidio": {m: score(presidio, gold, m == "overlap") for m in ("exact", "overlap")},
        "presidio_score_0.5": {m: score(presidio, gold, m == "overlap", 0.5) for m in ("exact", "overlap")},
    }
    speed = {
        "warden_scan_ns": warden_ns,
        "presidio_scan_ns": presidio_ns,
        "warden_mib_s": nbytes / (warden_ns / 1e9) / 2**20,
        "presidio_mib_s": nbytes / (presidio_ns / 1e9) / 2**20,
        "ratio": presidio_ns / warden_ns,
    }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "commit": commit,
        "machine": machine(),
        "presidio": PRESIDIO,
        "corpus": os.path.relpath(args.corpus, ROOT),
        "texts": len(TEXTS),
        "bytes": nbytes,
        "rounds": args.rounds,
        "entities": entities,
        "accuracy": sides,
        "speed": speed,
    }
    md = markdown(report)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "presidio.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "presidio.md"), "w") as f:
        f.write(md)
    print(md)


def markdown(r):
    m = r["machine"]
    lines = [
        f"# Warden vs Presidio pattern recognizers ({r['date']}, commit {r['commit']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}; Python {m['python']}; {r['presidio']}.",
        f"Corpus: `{r['corpus']}`, {r['texts']} texts, {r['bytes']} bytes. Made by `benches/presidio/compare.py`.",
        "",
        "F1 per entity (exact span / overlapping span). Presidio counted at its default threshold and at score >= 0.5.",
        "",
        "| entity | labelled | Warden P | Warden R | Warden F1 | Presidio P | Presidio R | Presidio F1 | Presidio F1 (score >= 0.5) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    acc = r["accuracy"]
    for e in r["entities"]:
        def cell(side, mode, key):
            return acc[side][mode].get(e, {}).get(key, 0.0)

        labelled = acc["warden"]["exact"].get(e, {"tp": 0, "fn": 0})
        n = labelled["tp"] + labelled["fn"]
        lines.append(
            f"| {e} | {n} | {cell('warden', 'exact', 'precision'):.3f} | {cell('warden', 'exact', 'recall'):.3f} "
            f"| {cell('warden', 'exact', 'f1'):.3f} / {cell('warden', 'overlap', 'f1'):.3f} "
            f"| {cell('presidio', 'exact', 'precision'):.3f} | {cell('presidio', 'exact', 'recall'):.3f} "
            f"| {cell('presidio', 'exact', 'f1'):.3f} / {cell('presidio', 'overlap', 'f1'):.3f} "
            f"| {cell('presidio_score_0.5', 'exact', 'f1'):.3f} / {cell('presidio_score_0.5', 'overlap', 'f1'):.3f} |"
        )
    s = r["speed"]
    lines += [
        "",
        f"Speed, scanning only, best of {r['rounds']} rounds over the whole corpus, one core each:",
        "",
        "| | time | MiB/s | ratio |",
        "|---|---|---|---|",
        f"| Warden (every built-in detector: PII, secrets, injection, content safety) | {s['warden_scan_ns'] / 1e6:.2f} ms | {s['warden_mib_s']:.1f} | 1 |",
        f"| Presidio (7 pattern recognizers) | {s['presidio_scan_ns'] / 1e6:.2f} ms | {s['presidio_mib_s']:.2f} | {s['ratio']:.0f}x slower |",
        "",
        "Caveats: the corpus is written by the same team as Warden's detectors (tests/corpus/generate.py), so Warden's",
        "figures are optimistic; Presidio's pattern layer is designed to be lifted by context words and an NER model",
        "(AnalyzerEngine with spaCy), which this comparison leaves out on purpose — it compares the pattern layers.",
        "",
    ]
    return "\n".join(lines)


TEXTS = []

if __name__ == "__main__":
    main()
