"""Labelled question pairs for the semantic cache's precision: the questions are not ours.

    python3 benches/semantic/generate.py     # writes benches/semantic/dev.jsonl and test.jsonl

The questions are FreshQA's (Vu et al., 2023: 600 questions people ask search engines and
chatbots, written by its authors), as the PyPI package inspect-evals 0.28.0 (MIT) carries them
(`inspect_evals/abstention_bench/data/freshqa/FreshQA_v12182024.csv`); the wheel is pinned by
hash and downloaded once into benches/semantic/.cache. Replacement values come from Faker
(pinned below, in its own venv `.venv-faker`, seeded).

Each question is paired with variants that must NOT be answered from its cache entry (label 0):
- `number`: one of its numbers replaced by another (Faker's random_int);
- `entity`: one capitalised word inside it replaced by a Faker country, city, surname or company;
- `negation`: "not" put after its first auxiliary verb;
- `word`: one of its content words replaced by another English word (Faker's word list);
- `other`: another FreshQA question;
and with one rephrasing that should be (label 1, kind `rephrase`): the question wrapped in a
request phrase or changed in case and punctuation. The rephrasing templates are ours, so recall on
them is a regression guard, not evidence: no registry package we could find ships a labelled
paraphrase corpus (PAWS, QQP, MRPC, STS-B, SICK, CLINC150 and Banking77 are fetched at run time
by their loaders, never packaged).

Split by question, so no question is in both: dev (seed 4242) may be tuned on; test (seed 9191)
is frozen — generated once, committed, only measured (benches/semantic/evaluate.py).

Each line: {"a", "b", "label", "kind", "question_id"}.
"""

import csv
import io
import json
import os
import random
import re
import sys
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from own_venv import rerun_inside  # noqa: E402
from wheels import pinned_wheel  # noqa: E402

FAKER = "faker==40.54.0"
WHEEL = ("inspect-evals", "0.28.0")
SHA256 = "1d5735999b1c4e481162cacc29b962beeefd540c1e6222cccfdb40e79e8d459d"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.path.join(ROOT, ".venv-faker")
HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
CSV = "inspect_evals/abstention_bench/data/freshqa/FreshQA_v12182024.csv"

AUX = ["is", "are", "was", "were", "does", "do", "did", "can", "will", "has", "have", "should"]
# Words a `word` variant does not replace (they carry no content).
SKIP = set(
    "what which who whom whose when where why how the a an of in on at for to from by with and or "
    "is are was were be been does do did can could will would has have had should this that these "
    "those there their its it his her they them he she you your i my me we our us first last "
    "name many much most".split()
)
WRAPPERS = [
    "Can you tell me: {q}",
    "Please answer this: {q}",
    "{q} Please be brief.",
    "Quick question - {q}",
    "I want to know {lq}",
    "Hi! {q} Thanks.",
]


def wheel():
    name, version = WHEEL
    return pinned_wheel(name, version, SHA256, CACHE)


def questions():
    with zipfile.ZipFile(wheel()) as z:
        text = z.read(CSV).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    head = next(i for i, r in enumerate(rows) if "question" in r)
    col = rows[head].index("question")
    out = []
    for r in rows[head + 1:]:
        if len(r) > col and r[col].strip():
            out.append((int(r[0]), r[col].strip()))
    return out


def variants(qid, q, others, fake, rng):
    pairs = []

    def add(b, label, kind):
        if b != q:
            pairs.append({"a": q, "b": b, "label": label, "kind": kind, "question_id": qid})

    wrapper = rng.choice(WRAPPERS)
    lq = q[0].lower() + q[1:]
    if rng.random() < 0.3:
        add(q.lower().rstrip("?").strip(), 1, "rephrase")
    else:
        add(wrapper.format(q=q, lq=lq), 1, "rephrase")

    numbers = list(re.finditer(r"\d+", q))
    if numbers:
        m = rng.choice(numbers)
        old = int(m.group())
        new = old
        while new == old:
            new = fake.random_int(min=max(0, old - 20), max=old + 20) if old < 3000 else fake.random_int(1900, 2030)
        add(q[: m.start()] + str(new) + q[m.end():], 0, "number")

    caps = [m for m in re.finditer(r"\b[A-Z][a-zA-Z]+\b", q) if m.start() > 0]
    if caps:
        m = rng.choice(caps)
        pick = rng.choice([fake.country, fake.city, fake.last_name, fake.company])
        value = pick()
        if value.lower() != m.group().lower():
            add(q[: m.start()] + value + q[m.end():], 0, "entity")

    words = q.split()
    for i, w in enumerate(words):
        if w.lower() in AUX:
            add(" ".join(words[: i + 1] + ["not"] + words[i + 1:]), 0, "negation")
            break

    content = [
        m for m in re.finditer(r"\b[a-z]{4,}\b", q) if m.group() not in SKIP
    ]
    if content:
        m = rng.choice(content)
        new = m.group()
        while new == m.group() or len(new) < 4:
            new = fake.word()
        add(q[: m.start()] + new + q[m.end():], 0, "word")

    other = rng.choice(others)
    if other != q:
        add(other, 0, "other")
    return pairs


def main():
    rerun_inside(VENV, FAKER, "faker", __file__)
    from faker import Faker

    qs = questions()
    order = random.Random(77).sample(qs, len(qs))
    half = len(order) // 2
    for name, part, seed in [("dev", order[:half], 4242), ("test", order[half:], 9191)]:
        fake = Faker("en_US")
        fake.seed_instance(seed)
        rng = random.Random(seed)
        texts = [q for _, q in part]
        rows = []
        for qid, q in sorted(part):
            rows.extend(variants(qid, q, texts, fake, rng))
        with open(os.path.join(HERE, f"{name}.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        kinds = {}
        for r in rows:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        print(name, len(part), "questions", kinds)


if __name__ == "__main__":
    main()
