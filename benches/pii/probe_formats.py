"""How Faker writes phone numbers, locale by locale, and which of those ways the detector takes
with no phone word near them and after one — a check of formats, free of any set's templates.

    python3 benches/pii/probe_formats.py [--warden BIN] [--per-locale N] [--show LOCALE,...]

Fresh draws (seed 424242, no set's seed) from the Faker pinned in generate.py, the 16 locales of
the sets, each number in two clauses: "Note {v} here." (no word) and "Call {v} today." (a phone
word). Prints, per locale, how many are taken and the shapes of the misses (`#` for a digit);
`--show` lists the missed numbers of those locales. Formats the detector misses after a phone
word are a detector gap; those it misses with no word are what only `phone_standalone` or a new
way of writing can take.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import FAKER, LOCALES, ROOT, VENV  # noqa: E402
from own_venv import rerun_inside  # noqa: E402

CLAUSES = {"none": "Note {v} here.", "word": "Call {v} today."}


def main():
    rerun_inside(VENV, FAKER, "faker", __file__)
    from faker import Faker

    ap = argparse.ArgumentParser()
    ap.add_argument("--warden", default=os.path.join(ROOT, "target", "release", "warden-dataplane"))
    ap.add_argument("--per-locale", type=int, default=150)
    ap.add_argument("--show", default="")
    ap.add_argument("--phone-standalone", action="store_true")
    args = ap.parse_args()
    lines = []
    for i, loc in enumerate(LOCALES):
        f = Faker(loc)
        f.seed_instance(424242 + i)
        for _ in range(args.per_locale):
            v = f.phone_number()
            for clause, t in CLAUSES.items():
                lines.append((loc, clause, v, t.replace("{v}", v)))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as out:
        for line in lines:
            out.write(json.dumps({"text": line[3]}, ensure_ascii=False) + "\n")
    flags = ["--phone-standalone"] if args.phone_standalone else []
    try:
        p = subprocess.run([args.warden, "guard", "scan", *flags, out.name], capture_output=True, text=True, check=True)
    finally:
        os.unlink(out.name)
    taken = collections.Counter()
    misses = collections.defaultdict(collections.Counter)
    show = set(filter(None, args.show.split(",")))
    for (loc, clause, v, text), result in zip(lines, p.stdout.splitlines()):
        raw = text.encode()
        start = raw.index(v.encode())
        end = start + len(v.encode())
        ok = any(f["category"] == "pii" and f["start"] <= start and f["end"] >= end for f in json.loads(result)["findings"])
        if ok:
            taken[loc, clause] += 1
            taken[clause] += 1
        else:
            misses[loc, clause][re.sub(r"\d", "#", v)] += 1
            if loc in show:
                print(f"{loc} {clause}: {v}")
    n = args.per_locale
    print(f"Faker {FAKER.split('==')[1]}, {n} numbers per locale, seed 424242")
    for loc in LOCALES:
        row = "  ".join(f"{c} {taken[loc, c]}/{n}" for c in CLAUSES)
        shapes = "; ".join(f"{c}: " + ", ".join(f"{s} ×{k}" for s, k in misses[loc, c].most_common(3)) for c in CLAUSES if misses[loc, c])
        print(f"{loc:6} {row}  {shapes}")
    print("total  " + "  ".join(f"{c} {taken[c]}/{n * len(LOCALES)}" for c in CLAUSES))


if __name__ == "__main__":
    main()
