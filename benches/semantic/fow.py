"""The semantic cache on a benchmark we did not write: fow-cache 0.1.0's question and
conversation pairs.

    python3 benches/semantic/fow.py --set dev|test [--bin target/release/warden-dataplane]
        [--model target/models/semantic] [--threshold 0.80] [--out FILE]

fow-cache (PyPI, 0.1.0, code MIT, data CC BY 4.0, by Mabon ap Gwyn; "How often does your semantic
cache serve the wrong answer?") ships 600 single-question pairs — `near_repeat` and `paraphrase`
should share an answer; `negation`, `entity_swap`, `number_date` and `scope` are traps that look
alike and must not — and 240 pairs of multi-turn chats whose last user messages match:
`same_context_reworded`, `irrelevant_history` and `same_context_extra_chatter` should share an
answer, `context_swap`, `detail_swap` and `intent_flip` must not. Its authors wrote the pairs
and labels with language models and reviewed a sample by hand; ten pairs whose answer depends on
the application carry an `ambiguous` reason and count as traps here (fow-cache's own strict
default), reported as a group of their own. The wheel is pinned by hash and downloaded once into
benches/semantic/.cache; nothing of it is copied into the repository.

Split, fixed before any pair was read: within each category (questions) or subtype
(conversations), items sorted by id, the even positions are `dev` and the odd ones `test`. Dev may
be read pair by pair and anything in the cache may be changed for it; test is only measured,
each time recorded in docs/caching.md, and its pairs are not read.

How Warden decides, as its semantic tier does (docs/caching.md, "Deciding a hit"):
- a question pair is a hit when `warden-dataplane cache compare` says the salient tokens match
  and the similarity is at least the threshold (default: the shipped 0.80);
- a conversation pair is a hit only when every message before the last is the same (role and
  text: the partition hashes the system prompt and every earlier turn) and the last user turns
  are a hit as above.
The embedding alone (similarity only) is reported beside it, as the thing the guard is for.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from wheels import pinned_wheel  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CACHE = os.path.join(HERE, ".cache")
WHEEL = ("fow-cache", "0.1.0")
SHA256 = "9857fda26ab05141bc982c85a34f5e7ae52b81514979a8a8fc64d8d6f1646de1"
QUESTIONS = "fow_cache/data/pairs.jsonl"
CONVERSATIONS = "fow_cache/data/conv-"


def wheel():
    name, version = WHEEL
    return pinned_wheel(name, version, SHA256, CACHE)


def load():
    """(questions, conversations), each a list of dicts with `group` and `should_hit` added."""
    with zipfile.ZipFile(wheel()) as z:
        def lines(name):
            return [json.loads(l) for l in z.read(name).decode("utf-8").splitlines() if l.strip()]

        questions = lines(QUESTIONS)
        conversations = [row for name in sorted(z.namelist())
                         if name.startswith(CONVERSATIONS) and name.endswith(".jsonl")
                         for row in lines(name)]
    for item in questions + conversations:
        item["group"] = item.get("ambiguous") or item.get("category") or item["subtype"]
        item["should_hit"] = bool(item["same_answer"]) and not item.get("ambiguous")
    return questions, conversations


def split(items, which):
    """Within each category or subtype, sorted by id: even positions dev, odd test."""
    kind = "category" if "category" in items[0] else "subtype"
    out = []
    for group in sorted({i[kind] for i in items}):
        members = sorted((i for i in items if i[kind] == group), key=lambda i: i["id"])
        out += members[0 if which == "dev" else 1::2]
    return out


def compare(binary, model, pairs):
    """`cache compare` over (a, b) text pairs: [(similarity, salient)]."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for a, b in pairs:
            f.write(json.dumps({"a": a, "b": b}) + "\n")
    try:
        out = subprocess.run([binary, "cache", "compare", "--model", model, f.name],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    rows = [json.loads(l) for l in out.splitlines()]
    assert len(rows) == len(pairs)
    return [(r["similarity"], r["salient"]) for r in rows]


def last_user(messages):
    return messages[-1]["content"] if messages and messages[-1]["role"] == "user" else None


def decide(binary, model, questions, conversations, threshold):
    """Sets each item's `hit` (as the cache decides) and `embedding_hit` (similarity alone)."""
    pairs = [(q["a"], q["b"]) for q in questions]
    convs = [c for c in conversations if last_user(c["a"]) is not None and last_user(c["b"]) is not None]
    pairs += [(last_user(c["a"]), last_user(c["b"])) for c in convs]
    scores = compare(binary, model, pairs)
    for item, (similarity, salient) in zip(questions + convs, scores):
        same_history = "category" in item or item["a"][:-1] == item["b"][:-1]
        item["similarity"] = similarity
        item["embedding_hit"] = similarity >= threshold
        item["hit"] = same_history and salient and similarity >= threshold
    for c in conversations:
        c.setdefault("hit", False)
        c.setdefault("embedding_hit", False)


def table(items, title):
    groups = list(dict.fromkeys(i["group"] for i in sorted(items, key=lambda i: not i["should_hit"])))
    lines = [f"### {title}", "",
             "| group | should share an answer | pairs | served from the cache (Warden) | embedding alone |",
             "|---|---|---|---|---|"]

    def row(name, members, should):
        n = len(members)
        hits = sum(m["hit"] for m in members)
        emb = sum(m["embedding_hit"] for m in members)
        lines.append(f"| {name} | {should} | {n} | {hits} ({hits / n:.3f}) | {emb} ({emb / n:.3f}) |")

    for g in groups:
        members = [i for i in items if i["group"] == g]
        row(g, members, "yes" if members[0]["should_hit"] else "no")
    row("**all that should** (hits)", [i for i in items if i["should_hit"]], "yes")
    row("**all traps** (wrong answers)", [i for i in items if not i["should_hit"]], "no")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=["dev", "test"], required=True)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/warden-dataplane"))
    ap.add_argument("--model", default=os.path.join(ROOT, "target/models/semantic"))
    ap.add_argument("--threshold", type=float, default=0.80)
    ap.add_argument("--out", help="write the report here (markdown); default: stdout")
    ap.add_argument("--show", action="store_true", help="dev only: print each pair and its decision")
    a = ap.parse_args()
    if a.show and a.set != "dev":
        sys.exit("--show reads pairs line by line: dev only")
    questions, conversations = load()
    questions, conversations = split(questions, a.set), split(conversations, a.set)
    decide(a.bin, a.model, questions, conversations, a.threshold)
    report = [f"# fow-cache {WHEEL[1]} through Warden's semantic tier: {a.set} half, threshold {a.threshold:.2f}", ""]
    report += table(questions, f"Single questions ({len(questions)} pairs)") + [""]
    report += table(conversations, f"Conversations ({len(conversations)} pairs)") + [""]
    text = "\n".join(report)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    if a.show:
        for i in questions + conversations:
            if i["hit"] != i["should_hit"]:
                a_text = i["a"] if isinstance(i["a"], str) else last_user(i["a"])
                b_text = i["b"] if isinstance(i["b"], str) else last_user(i["b"])
                print(json.dumps({"group": i["group"], "should": i["should_hit"], "hit": i["hit"],
                                  "sim": round(i.get("similarity", 0), 3), "a": a_text, "b": b_text}))


if __name__ == "__main__":
    main()
