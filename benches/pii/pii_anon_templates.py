"""Labelled PII records whose templates are not ours: pii-anon 1.3.0's evaluation templates
filled with Faker's values.

    python3 benches/pii/pii_anon_templates.py          # writes pa-dev.jsonl and pa-test.jsonl
    python3 benches/pii/evaluate.py --set pa-test ...  # measures one

A second outside source of sentences, after presidio_templates.py (whose test half has since been
read by tuning work and so no longer counts as unseen). **pii-anon 1.3.0** (PyPI, Apache-2.0)
generates its benchmark from 26 templates in `pii_anon/eval_framework/datasets/generator.py`:
HR and medical records, banking and government-id forms, logs, code, JSON, a CSV row, and
"adversarial" layouts (coreference, mixed formats, obfuscation, dense PII). They are read from the
hash-pinned wheel with `ast` (nothing of the package is imported or run) and never copied into
the repository.

Filled by Faker (the version generate.py pins, in its venv), each line in one of generate.py's
locales, and labelled: PHONE_NUMBER (the locale's `phone_number()`), EMAIL_ADDRESS, US_SSN (30 %
written without dashes), CREDIT_CARD (ten networks), IBAN_CODE (17 countries), IP_ADDRESS (public
or private IPv4, IPv6), DATE_OF_BIRTH (five date formats) and ADDRESS (the locale's address).
Every other placeholder is filled but not labelled — names, organisations, ids of the package's
own kinds (employee, medical record, insurance, passport, national, tax and visa numbers, bank
accounts, routing numbers, VINs, device ids, API keys, MAC addresses…), written here in shapes
like the package's — so a finding on them does not count for any entity above (evaluate.py scores
per labelled entity).

The split, fixed before any figure was taken: templates in file order, even positions make pa-dev
(seed 1201), odd ones pa-test (seed 9209); each template written 40 times, other draws each time.
Detectors may be tuned on pa-dev only; pa-test is measured, never read line by line.

The committed jsonl files are the sets: Faker draws dates of birth relative to the day it runs
(as presidio_templates.py's dates and times are), so a rerun on another day writes other dates
there.
"""

import ast
import json
import os
import string
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import generate  # noqa: E402
from own_venv import rerun_inside  # noqa: E402
from wheels import pinned_wheel  # noqa: E402

WHEEL = ("pii-anon", "1.3.0", "ad28b758b3670ec02c00efebb5c24bc331b05ca0404d0467a27eda2b8483a8e7")
SOURCE = "pii_anon/eval_framework/datasets/generator.py"
CACHE = os.path.join(generate.ROOT, "target", "bench-wheels")
LABELS = {
    "phone": "PHONE_NUMBER", "phone2": "PHONE_NUMBER", "email": "EMAIL_ADDRESS",
    "email2": "EMAIL_ADDRESS", "ssn": "US_SSN", "cc": "CREDIT_CARD", "iban": "IBAN_CODE",
    "ip": "IP_ADDRESS", "dob": "DATE_OF_BIRTH", "address": "ADDRESS",
}
REPEAT = 40


def read_templates():
    """The package's `_TEMPLATES` list, read as a literal from its source."""
    with zipfile.ZipFile(pinned_wheel(*WHEEL, CACHE)) as z:
        source = z.read(SOURCE).decode()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(getattr(t, "id", None) == "_TEMPLATES" for t in targets):
            return [t["template"] for t in ast.literal_eval(node.value)]
    raise SystemExit(f"no _TEMPLATES in {SOURCE}")


class Filler:
    def __init__(self, gen):
        self.g = gen

    def digits(self, n):
        return "".join(self.g.rng.choice(string.digits) for _ in range(n))

    def letters(self, n, alphabet=string.ascii_uppercase):
        return "".join(self.g.rng.choice(alphabet) for _ in range(n))

    def value(self, name, locale, person):
        g, rng = self.g, self.g.rng
        f, us = g.fake(locale), g.fake("en_US")
        labelled = {
            "phone": lambda: f.phone_number(),
            "email": lambda: rng.choice([f.email, f.company_email, f.free_email])(),
            "ssn": lambda: (lambda v: v.replace("-", "") if rng.random() < 0.3 else v)(us.ssn()),
            "cc": lambda: g.card(rng.choice(generate.CARD_TYPES)),
            "iban": lambda: g.iban(rng.choice(generate.IBAN_LOCALES)),
            "ip": lambda: rng.choice([us.ipv4_public, us.ipv4_private, us.ipv6])(),
            "dob": lambda: f.date_of_birth().strftime(rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%B %d, %Y", "%d.%m.%Y"])),
            "address": lambda: f.address().replace("\n", ", "),
        }
        base = name[:-1] if name.endswith("2") else name
        if base in labelled:
            return labelled[base]()
        hexd = "0123456789abcdef"
        other = {
            "name": lambda: person,
            "contact_name": lambda: f.name(),
            "org": lambda: f.company(),
            "username": lambda: person.split()[0].lower() + str(rng.randint(1, 999)),
            "emp_id": lambda: f"EMP-{self.digits(6)}",
            "mrn": lambda: f"MRN-{self.digits(8)}",
            "insurance_id": lambda: f"HIN-{self.digits(6)}",
            "passport": lambda: self.letters(1) + self.digits(8),
            "national_id": lambda: f"{self.letters(2)}{self.digits(7)}",
            "tax_id": lambda: f"{self.digits(2)}-{self.digits(7)}",
            "visa_number": lambda: f"V{self.digits(8)}",
            "bank_account": lambda: self.digits(rng.randint(10, 12)),
            "routing_number": lambda: self.digits(9),
            "swift_bic": lambda: us.swift(),
            "drivers_license": lambda: self.letters(1) + self.digits(7),
            "license_plate": lambda: f"{self.letters(3)}-{self.digits(4)}",
            "vin": lambda: self.letters(17, "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"),
            "device_id": lambda: f"DEV-{self.letters(8, hexd.upper())}",
            "mac": lambda: ":".join(self.letters(2, hexd.upper()) for _ in range(6)),
            "api_key": lambda: "sk-" + self.letters(32, string.ascii_letters + string.digits),
            "auth_token": lambda: "Bearer " + self.letters(40, string.ascii_letters + string.digits),
            "crypto_wallet": lambda: "0x" + self.letters(40, hexd),
            "url_pii": lambda: f"https://example.com/users/{person.split()[0].lower()}?id={self.digits(5)}",
            "social_handle": lambda: "@" + person.split()[0].lower() + self.digits(2),
            "zip_code": lambda: us.postcode(),
            "prescription": lambda: f"RX-{self.digits(7)}",
            "biometric_id": lambda: f"BIO-{self.letters(10, hexd.upper())}",
            "location_coords": lambda: f"{us.latitude():.4f}, {us.longitude():.4f}",
            "age": lambda: str(rng.randint(18, 90)),
            "gender": lambda: rng.choice(["Female", "Male", "Non-binary"]),
            "claim_id": lambda: self.digits(6),
            "case_id": lambda: f"CF-{self.digits(6)}",
            "diagnosis": lambda: rng.choice(["Type 2 diabetes", "Hypertension", "Migraine", "Asthma"]),
            "job_title": lambda: f.job(),
            "salary": lambda: f"${rng.randint(40, 250)},{rng.choice(['000', '500', '750'])}",
            "nationality": lambda: rng.choice(["American", "British", "German", "French", "Brazilian", "Indian"]),
            "ethnic_origin": lambda: rng.choice(["Hispanic", "Asian", "White", "Black"]),
            "religious_belief": lambda: rng.choice(["Catholic", "Muslim", "Buddhist", "Atheist"]),
            "political_opinion": lambda: rng.choice(["Liberal", "Conservative", "Green"]),
            "filler_medium": lambda: f.paragraph(nb_sentences=6),
            "filler_long": lambda: " ".join(f.paragraph(nb_sentences=6) for _ in range(2)),
            "filler_long2": lambda: f.paragraph(nb_sentences=8),
        }
        if name not in other:
            raise KeyError(f"no value for {{{name}}}")
        return other[name]()

    def line(self, template, locale, group):
        person = self.g.fake(locale).name()
        text, entities = "", []
        for literal, field, _, _ in string.Formatter().parse(template):
            text += literal
            if field is None:
                continue
            value = self.value(field, locale, person)
            if field in LABELS:
                entities.append({"type": LABELS[field], "start": len(text), "end": len(text) + len(value), "value": value})
            text += value
        return {"text": text, "entities": entities, "locale": locale, "group": group}


def write(path, templates, seed):
    g = generate.Gen(seed, True)
    filler = Filler(g)
    lines = []
    for index, template in templates:
        for _ in range(REPEAT):
            lines.append(filler.line(template, g.rng.choice(generate.LOCALES), f"template:{index}"))
    generate.write_set(path, g, lines)


def main():
    rerun_inside(generate.VENV, generate.FAKER, "faker", __file__)
    import faker

    assert faker.VERSION == generate.FAKER.split("==")[1], f"pinned {generate.FAKER}, found {faker.VERSION}"
    indexed = list(enumerate(read_templates()))
    write(os.path.join(HERE, "pa-dev.jsonl"), indexed[0::2], 1201)
    write(os.path.join(HERE, "pa-test.jsonl"), indexed[1::2], 9209)


if __name__ == "__main__":
    main()
