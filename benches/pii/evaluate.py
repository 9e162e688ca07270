"""Warden's PII detectors and Presidio's recognizers, side by side, on the Faker-made sets.

    python3 benches/pii/evaluate.py [--set test|dev] [--warden BIN] [--no-presidio] [--out DIR]
                                    [--phone-standalone] [--own-region]

- The sets come from benches/pii/generate.py (values by Faker, 16 locales, our templates); `test`
  is the frozen one, `dev` the one detectors may be tuned on. `pe-test` and `pe-dev` come from
  benches/pii/presidio_templates.py: presidio-evaluator 0.3.2's templates, Faker's values; again
  only the dev half may be tuned on. `pa-test` and `pa-dev` come from
  benches/pii/pii_anon_templates.py: pii-anon 1.3.0's templates, Faker's values; the same rule.
- Warden: `warden-dataplane guard scan` (release build unless --warden names a binary), every
  built-in detector. Presidio: presidio-analyzer (pinned below, its own venv `.venv-presidio`), each
  recognizer for an entity of the set called directly — its pattern and checksum layer, without
  the spaCy NER model or context enhancement (those need a model download).
- A finding counts for an entity when it has that entity's type and overlaps the labelled value
  (exact-span F1 is reported too). "kept" is the share of labelled values that some PII finding of
  any type covers entirely — what a provider would not see under `pii = "redact"`.
- Look-alikes (EAN-13, ISBN, Unix times, dates, order and tracking numbers, versions, invalid SSNs,
  Luhn-invalid card numbers, ...): the share of those lines with any PII finding is the false
  redaction rate.

With --own-region, each line is scanned by a data plane whose `phone_regions` is its locale's
country alone (`guard scan --phone-regions XX`): a deployment serving one country.

Writes DIR/pii-<set>.json and DIR/pii-<set>.md (DIR: benches/results/pii; with
--phone-standalone, pii-<set>-phone-standalone.*; with --own-region, ...-own-region.*) and prints
the Markdown.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from own_venv import rerun_inside  # noqa: E402

PRESIDIO = "presidio-analyzer==2.2.366"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.path.join(ROOT, ".venv-presidio")
HERE = os.path.dirname(os.path.abspath(__file__))

# Warden detector id -> entity type of the sets (detectors not named here are not PII).
WARDEN = {
    "email": "EMAIL_ADDRESS", "payment_card": "CREDIT_CARD", "phone": "PHONE_NUMBER",
    "iban": "IBAN_CODE", "bic": "SWIFT_CODE", "ipv4": "IP_ADDRESS", "ipv6": "IP_ADDRESS",
    "us_ssn": "US_SSN", "us_itin": "US_ITIN", "uk_nino": "UK_NINO", "fr_nir": "FR_NIR",
    "es_dni": "ES_NIF", "es_nie": "ES_NIE", "it_fiscal_code": "IT_FISCAL_CODE", "nl_bsn": "NL_BSN",
    "pl_pesel": "PL_PESEL", "ca_sin": "CA_SIN", "in_aadhaar": "IN_AADHAAR", "br_cpf": "BR_CPF",
    "se_personnummer": "SE_PERSONNUMMER", "passport": "US_PASSPORT", "de_tax_id": "DE_TAX_ID",
    "date_of_birth": "DATE_OF_BIRTH", "street_address": "ADDRESS", "drivers_licence": "DRIVER_LICENSE",
}
# Presidio recognizer class -> the set's entity it answers for.
PRESIDIO_RECOGNIZERS = {
    "CreditCardRecognizer": "CREDIT_CARD", "PhoneRecognizer": "PHONE_NUMBER", "EmailRecognizer": "EMAIL_ADDRESS",
    "IbanRecognizer": "IBAN_CODE", "IpRecognizer": "IP_ADDRESS", "UsSsnRecognizer": "US_SSN",
    "UsItinRecognizer": "US_ITIN", "UkNinoRecognizer": "UK_NINO", "EsNifRecognizer": "ES_NIF",
    "EsNieRecognizer": "ES_NIE", "ItFiscalCodeRecognizer": "IT_FISCAL_CODE", "PlPeselRecognizer": "PL_PESEL",
    "CaSinRecognizer": "CA_SIN", "InAadhaarRecognizer": "IN_AADHAAR", "SePersonnummerRecognizer": "SE_PERSONNUMMER",
    "UsPassportRecognizer": "US_PASSPORT",
}


def ensure_presidio():
    rerun_inside(VENV, PRESIDIO, "presidio_analyzer", __file__)


def run_warden(binary, path, texts, standalone=False, regions=None):
    flags = ["--phone-standalone"] if standalone else []
    if regions:
        flags += ["--phone-regions", regions]
    p = subprocess.run([binary, "guard", "scan", *flags, "--repeat", "3", path], capture_output=True, text=True, check=True)
    timing = json.loads(p.stderr.strip().splitlines()[-1])
    found = []
    for line, text in zip(p.stdout.splitlines(), texts):
        raw, spans = text.encode(), []
        for f in json.loads(line)["findings"]:
            if f["category"] != "pii":
                continue
            start = len(raw[: f["start"]].decode())
            end = start + len(raw[f["start"]:f["end"]].decode())
            spans.append((WARDEN.get(f["detector"], f["detector"]), start, end))
        found.append(spans)
    return found, timing["scan_ns"]


def run_warden_own_region(binary, items, standalone):
    """Each line scanned as a project that names its line's country (the locale's) as its only
    phone region would scan it; the scan time is the sum over the locales."""
    found, scan_ns = [None] * len(items), 0
    by_locale = {}
    for i, item in enumerate(items):
        by_locale.setdefault(item["locale"], []).append(i)
    for locale, idx in sorted(by_locale.items()):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for i in idx:
                f.write(json.dumps({"text": items[i]["text"]}, ensure_ascii=False) + "\n")
            name = f.name
        try:
            got, ns = run_warden(binary, name, [items[i]["text"] for i in idx], standalone,
                                 locale.split("_")[1])
        finally:
            os.unlink(name)
        scan_ns += ns
        for i, spans in zip(idx, got):
            found[i] = spans
    return found, scan_ns


def run_presidio(texts):
    import tldextract

    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    import presidio_analyzer.predefined_recognizers as p

    recognizers = [(getattr(p, name)(), entity) for name, entity in PRESIDIO_RECOGNIZERS.items()]
    found = []
    for text in texts:
        spans = []
        for r, entity in recognizers:
            for res in r.analyze(text, r.supported_entities, None):
                spans.append((entity, res.start, res.end))
        found.append(spans)
    return found


def score(items, found, entities):
    out = {}
    for e in entities:
        tp = fp = fn = exact = kept = 0
        for item, spans in zip(items, found):
            want = [x for x in item["entities"] if x["type"] == e]
            mine = [s for s in spans if s[0] == e]
            used = set()
            for _, s, t in mine:
                hit = next((i for i, w in enumerate(want) if i not in used and s < w["end"] and w["start"] < t), None)
                if hit is None:
                    fp += 1
                else:
                    used.add(hit)
                    tp += 1
                    exact += (s, t) == (want[hit]["start"], want[hit]["end"])
            fn += len(want) - len(used)
            for w in want:
                kept += any(s <= w["start"] and w["end"] <= t for _, s, t in spans)
        n = tp + fn
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / n if n else 0.0
        pe = exact / (tp + fp) if tp + fp else 0.0
        re_ = exact / n if n else 0.0
        out[e] = {
            "labelled": n, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "f1_exact": 2 * pe * re_ / (pe + re_) if pe + re_ else 0.0,
            "kept": kept / n if n else 0.0,
        }
    return out


def lookalikes(items, found, entities):
    per, total, flagged, examples = {}, 0, 0, []
    for item, spans in zip(items, found):
        if not item["group"].startswith("lookalike:"):
            continue
        kind = item["group"].split(":", 1)[1]
        hit = [s for s in spans if s[0] in entities]
        t = per.setdefault(kind, [0, 0])
        t[0] += 1
        t[1] += bool(hit)
        total += 1
        flagged += bool(hit)
        if hit and len(examples) < 12:
            examples.append({"text": item["text"], "found": hit})
    return {"lines": total, "false_redactions": flagged, "rate": flagged / total if total else 0.0, "per_kind": per, "examples": examples}


def misses(items, found, limit=40):
    out = []
    for item, spans in zip(items, found):
        for w in item["entities"]:
            if not any(s[0] == w["type"] and s[1] < w["end"] and w["start"] < s[2] for s in spans):
                out.append({"type": w["type"], "value": w["value"], "locale": item["locale"], "text": item["text"]})
    return out[:limit] if limit else out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="test", choices=["test", "dev", "pe-test", "pe-dev", "pa-test", "pa-dev"])
    ap.add_argument("--warden")
    ap.add_argument("--no-presidio", action="store_true")
    ap.add_argument("--misses", type=int, default=0, help="print up to N of Warden's misses")
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "results", "pii"))
    ap.add_argument("--phone-standalone", action="store_true", help="as the data plane's phone_standalone = true (report named pii-SET-phone-standalone)")
    ap.add_argument("--own-region", action="store_true", help="scan each line with its locale's country as the only phone region, as a project serving that country would (report named ...-own-region)")
    args = ap.parse_args()
    if not args.no_presidio:
        ensure_presidio()
    binary = args.warden
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "warden-dataplane", "--bin", "warden-dataplane"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target", "release", "warden-dataplane")
    path = os.path.join(HERE, f"{args.set}.jsonl")
    items = [json.loads(l) for l in open(path) if l.strip()]
    texts = [i["text"] for i in items]
    entities = sorted({e["type"] for i in items for e in i["entities"]})
    if args.own_region:
        warden, scan_ns = run_warden_own_region(binary, items, args.phone_standalone)
    else:
        warden, scan_ns = run_warden(binary, path, texts, args.phone_standalone)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}",
        "set": os.path.relpath(path, ROOT), "phone_standalone": args.phone_standalone, "own_region": args.own_region, "lines": len(items), "bytes": sum(len(t.encode()) for t in texts),
        "warden": {"entities": score(items, warden, entities), "lookalikes": lookalikes(items, warden, set(WARDEN.values())), "scan_ns": scan_ns},
    }
    if not args.no_presidio:
        presidio = run_presidio(texts)
        report["presidio_version"] = PRESIDIO
        report["presidio"] = {"entities": score(items, presidio, entities), "lookalikes": lookalikes(items, presidio, set(PRESIDIO_RECOGNIZERS.values()))}
    if args.misses:
        for m in misses(items, warden, args.misses):
            print(json.dumps(m, ensure_ascii=False), file=sys.stderr)
    md = markdown(report, set(PRESIDIO_RECOGNIZERS.values()))
    os.makedirs(args.out, exist_ok=True)
    name = f"pii-{args.set}" + ("-phone-standalone" if args.phone_standalone else "") + ("-own-region" if args.own_region else "")
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write(md)
    print(md)


def markdown(r, presidio_has):
    w = r["warden"]
    p = r.get("presidio")
    lines = [
        f"# PII detection on `{r['set']}` ({r['date']}, commit {r['commit']})"
        + (" with `phone_standalone = true`" if r.get("phone_standalone") else "")
        + (", each line with its locale's country as the only phone region" if r.get("own_region") else ""),
        "",
        f"{r['lines']} lines, {r['bytes']} bytes; values from Faker 40.54.0 in 16 locales"
        + (", sentences from presidio-evaluator 0.3.2's templates (benches/pii/presidio_templates.py). "
           if os.path.basename(r["set"]).startswith("pe-") else " (benches/pii/generate.py). ")
        + f"Machine: {r['machine']}." + (f" Presidio: {r['presidio_version']}, recognizers called directly." if p else ""),
        "",
        "P/R/F1 count a finding of the right type that overlaps the labelled value; F1= is exact-span F1; kept = labelled",
        "values some PII finding covers entirely (what `pii = \"redact\"` keeps from the provider).",
        "",
        "| entity | n | Warden P | Warden R | Warden F1 (F1=) | kept | Presidio P | Presidio R | Presidio F1 (F1=) | kept |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e, s in w["entities"].items():
        row = f"| {e} | {s['labelled']} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} ({s['f1_exact']:.3f}) | {s['kept']:.3f} |"
        if p and e in presidio_has:
            q = p["entities"][e]
            row += f" {q['precision']:.3f} | {q['recall']:.3f} | {q['f1']:.3f} ({q['f1_exact']:.3f}) | {q['kept']:.3f} |"
        else:
            row += " — | — | — | — |"
        lines.append(row)
    lw = w["lookalikes"]
    lines += ["", f"Look-alikes: {lw['lines']} lines; false redactions: Warden {lw['false_redactions']} ({lw['rate']:.2%})"
              + (f", Presidio {p['lookalikes']['false_redactions']} ({p['lookalikes']['rate']:.2%})" if p else "") + ".", ""]
    lines.append("| kind | lines | Warden flagged" + (" | Presidio flagged |" if p else " |"))
    lines.append("|---|---|---" + ("|---|" if p else "|"))
    for kind, (n, hit) in sorted(lw["per_kind"].items()):
        lines.append(f"| {kind} | {n} | {hit}" + (f" | {p['lookalikes']['per_kind'][kind][1]} |" if p else " |"))
    mib_s = r["bytes"] / (w["scan_ns"] / 1e9) / 2**20
    lines += ["", f"Warden scan time (every built-in detector, best of 3): {w['scan_ns'] / 1e6:.2f} ms, {mib_s:.1f} MiB/s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
