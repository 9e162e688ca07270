"""Labelled PII sentences whose templates and values are both not ours: presidio-evaluator's
templates filled with Faker's values.

    python3 benches/pii/presidio_templates.py            # writes pe-dev.jsonl and pe-test.jsonl
    python3 benches/pii/evaluate.py --set pe-test ...    # measures one

Why it exists: in benches/pii/generate.py the values come from Faker but every sentence around
them is ours, written by the hands that write the detectors' context words. Here the sentences
are the 209 templates of **presidio-evaluator 0.3.2** (PyPI, MIT, "Presidio contributors";
`presidio_evaluator/data_generator/raw_data/templates.txt`: support-desk requests, chat lines,
signatures, address blocks, prose), read from its hash-pinned wheel and never copied into the
repository. Every placeholder is filled by Faker (the version generate.py pins, in its venv):
names, cities and addresses from the line's locale, phone numbers of 16 locales, cards of ten
networks, IBANs of 17 countries; driver's licence numbers follow the package's own table of US
state formats (us_driver_license_format.yaml).

Labelled: the values of the entities Warden has detectors for — PHONE_NUMBER, CREDIT_CARD,
EMAIL_ADDRESS, IBAN_CODE, US_SSN, IP_ADDRESS, DATE_OF_BIRTH, DRIVER_LICENSE and ADDRESS (a
whole `{{address}}`, or an address written in parts: a building number, street name or
secondary address, with the city, state or zip code written next to it). Names, organisations,
a city or zip code on its own, ages, years, URLs and the rest are filled but not labelled: a
finding on them is a false one. A line with nothing
labelled is a look-alike line of kind "template" (any finding on it is a false redaction).

The split, fixed before any figure was taken: templates in file order, even positions (0, 2, …)
make pe-dev (seed 1101), odd ones pe-test (seed 9109). A template with a labelled placeholder is
written 30 times (other draws each time), one without 4 times. Detectors may be tuned on pe-dev
only; pe-test is measured, never read line by line.
"""

import json
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import generate  # noqa: E402
from own_venv import rerun_inside  # noqa: E402
from wheels import pinned_wheel  # noqa: E402

WHEEL = ("presidio-evaluator", "0.3.2", "57614fe604e52b78e6de25b767c59265886b93bbcdc6c7e43ab2657d3f6302be")
RAW = "presidio_evaluator/data_generator/raw_data/"
CACHE = os.path.join(generate.ROOT, "target", "bench-wheels")
LABELS = {
    "phone_number": "PHONE_NUMBER", "credit_card_number": "CREDIT_CARD", "email": "EMAIL_ADDRESS",
    "iban": "IBAN_CODE", "ssn": "US_SSN", "ip_address": "IP_ADDRESS",
    "date_of_birth": "DATE_OF_BIRTH", "us_driver_license": "DRIVER_LICENSE", "address": "ADDRESS",
}
STREET_PARTS = {"building_number", "street_name", "secondary_address", "street_address"}
ADDRESS_PARTS = STREET_PARTS | {"city", "state_abbr", "zipcode", "postcode"}
PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


def read_wheel():
    with zipfile.ZipFile(pinned_wheel(*WHEEL, CACHE)) as z:
        templates = z.read(RAW + "templates.txt").decode("utf-8", errors="replace")
        licences = z.read(RAW + "us_driver_license_format.yaml").decode()
        nations = z.read(RAW + "nationalities.csv").decode("utf-8-sig")
    # The file writes a line break as `\n` and a comma as `\,`.
    lines = [t.replace("\\n", "\n").replace("\\,", ",") for t in templates.splitlines() if t.strip()]
    formats = re.findall(r'-\s*"([^"]+)"', licences)
    rows = [r.split(",") for r in nations.splitlines()[1:] if r.count(",") == 4]
    return lines, formats, rows


class Filler:
    def __init__(self, gen, formats, nations):
        self.g, self.formats, self.nations = gen, formats, nations

    def value(self, name, locale):
        g, rng = self.g, self.g.rng
        f, us = g.fake(locale), g.fake("en_US")
        if name == "phone_number":
            return f.phone_number()
        if name == "credit_card_number":
            return g.card(rng.choice(generate.CARD_TYPES))
        if name == "email":
            return rng.choice([f.email, f.company_email, f.free_email])()
        if name == "iban":
            return g.iban(rng.choice(generate.IBAN_LOCALES))
        if name == "ssn":
            v = us.ssn()
            return v.replace("-", "") if rng.random() < 0.3 else v
        if name == "ip_address":
            return rng.choice([us.ipv4_public, us.ipv4_private, us.ipv6])()
        if name == "date_of_birth":
            return f.date_of_birth().strftime(rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%B %d, %Y", "%d.%m.%Y"]))
        if name == "us_driver_license":
            return us.bothify(rng.choice(self.formats)).upper()
        if name == "address":
            return f.address()
        if name == "age":
            return str(rng.randint(1, 99))
        if name == "organization":
            return f.company()
        if name == "date_time":
            return f.date_time().strftime(rng.choice(["%Y-%m-%d %H:%M", "%d/%m/%Y", "%B %d, %Y %I:%M %p"]))
        if name in ("nationality", "nation_woman", "nation_plural"):
            row = rng.choice(self.nations)
            return {"nationality": row[1], "nation_woman": row[3], "nation_plural": row[4]}[name].title()
        if name == "person":
            return f.name()
        for faker in (f, us):
            method = getattr(faker, name, None)
            if callable(method):
                return str(method())
        raise KeyError(f"no Faker value for {{{{{name}}}}}")

    def line(self, template, locale, group):
        text, entities, at, run, runs = "", [], 0, None, []
        for m in PLACEHOLDER.finditer(template):
            between = template[at:m.start()]
            text += between
            name, value = m.group(1), self.value(m.group(1), locale)
            if name in LABELS:
                entities.append({"type": LABELS[name], "start": len(text), "end": len(text) + len(value), "value": value})
            # An address written in parts: a street-level part, and what stands next to it
            # (city, state, zip) with nothing but spaces, commas or line breaks between.
            if name in ADDRESS_PARTS and run is not None and not between.strip(" ,\n"):
                run["street"] |= name in STREET_PARTS
            elif name in ADDRESS_PARTS:
                run = {"start": len(text), "street": name in STREET_PARTS}
                runs.append(run)
            else:
                run = None
            text += value
            if run is not None:
                run["end"] = len(text)
            at = m.end()
        text += template[at:]
        for r in runs:
            if r["street"]:
                entities.append({"type": "ADDRESS", "start": r["start"], "end": r["end"], "value": text[r["start"]:r["end"]]})
        entities.sort(key=lambda e: e["start"])
        kind = group if entities else "lookalike:template"
        return {"text": text, "entities": entities, "locale": locale, "group": kind}


def write(path, templates, seed, formats, nations):
    g = generate.Gen(seed, True)
    filler = Filler(g, formats, nations)
    lines = []
    for index, template in templates:
        names = set(PLACEHOLDER.findall(template))
        for _ in range(30 if names & set(LABELS) else 4):
            lines.append(filler.line(template, g.rng.choice(generate.LOCALES), f"template:{index}"))
    generate.write_set(path, g, lines)


def main():
    rerun_inside(generate.VENV, generate.FAKER, "faker", __file__)
    import faker

    assert faker.VERSION == generate.FAKER.split("==")[1], f"pinned {generate.FAKER}, found {faker.VERSION}"
    templates, formats, nations = read_wheel()
    indexed = list(enumerate(templates))
    write(os.path.join(HERE, "pe-dev.jsonl"), indexed[0::2], 1101, formats, nations)
    write(os.path.join(HERE, "pe-test.jsonl"), indexed[1::2], 9109, formats, nations)


if __name__ == "__main__":
    main()
