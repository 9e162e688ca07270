"""Labelled PII sentences whose values come from Faker, not from us: the independent evaluation set.

    python3 benches/pii/generate.py            # writes benches/pii/dev.jsonl and benches/pii/test.jsonl
    python3 benches/pii/generate.py --set dev  # only the development set

Why it exists: Warden's own corpus (tests/corpus) and its detectors share an author, so the
corpus cannot tell how the detectors do on text from elsewhere. Here every value — card numbers,
phone numbers, e-mail addresses, IBANs, national ids, BICs, IPs, passport numbers, and the
look-alikes (EAN-13 and ISBN codes, Unix times, dates, order numbers, versions) — is produced by
Faker (pinned below, installed into its own venv, `.venv-faker`, on first use), in 16 locales.
We write only the sentence templates around them, and the way a value is grouped.

Two sets, split so that nothing is tuned on the test part:
- `dev.jsonl` (seed 1001) uses the templates in T, IDS and LOOKALIKE; detectors and their
  thresholds may be tuned on it;
- `test.jsonl` (seed 12012) uses its own templates (TEST_T, TEST_IDS, TEST_LOOKALIKE, written after
  the tuning) and other Faker draws; it is frozen: generated once, committed, and only ever
  measured (benches/pii/evaluate.py, and the floors in dataplane/tests/pii_floors.rs).
  Nine earlier test sets were retired after they were measured: seed 2002 (half of T's
  templates) showed what generic context words ("number") did to look-alikes; seed 3003
  (templates of its own) showed bare 12–13 digit card numbers and "my social is" SSNs missed;
  seed 5005 showed bare phone numbers after words off the telephony list missed; seed 6006
  showed bare numbers after "my new number" and at a reception desk missed; seed 7007 showed
  German numbers with the telephony verb after them ("unter … erreichbar") missed; seed 8008
  bare numbers with no telephony word near them; seed 9009 bare national numbers after words
  that say nothing about telephones ("Office: 0376722135"); seed 10010 French callback verbs
  ("Merci de rappeler … au") missing from the telephony words; seed 11011 "marca el" and "a buzz
  on" missing, `001-` with the country code run on, and numbers of no plan's range written as
  only phone numbers are (`(178) 787-0831`). Their figures
  are in the issue notes, docs/guardrails.md and benches/results/pii; the misses were worked on
  with dev only.

The committed files are the sets: Faker's time look-alikes (Unix times, timestamps, dates) are
drawn up to the day the script runs, so a later run writes other values for those lines.

Each line: {"text", "entities": [{"type", "start", "end", "value"}], "locale", "group"}; start and
end are character offsets. Lines of group "lookalike" carry no entity: any finding on one is a
false redaction.
"""

import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from own_venv import rerun_inside  # noqa: E402

FAKER = "faker==40.54.0"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.path.join(ROOT, ".venv-faker")
HERE = os.path.dirname(os.path.abspath(__file__))

# Locales for the values that differ by country (phones, e-mails, IBANs, names in templates).
LOCALES = [
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN",
    "pt_BR", "en_CA", "en_AU", "pl_PL", "sv_SE", "de_AT", "de_CH", "en_IE",
]
IBAN_LOCALES = [
    "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_PT",
    "de_AT", "de_CH", "en_IE", "sv_SE", "da_DK", "fi_FI", "no_NO", "nl_BE", "cs_CZ",
]
CARD_TYPES = ["visa13", "visa16", "visa19", "mastercard", "amex", "discover", "diners", "jcb15", "jcb16", "maestro"]

# Templates for the development set: "{v}" is the value, "{name}" a Faker name.
T = {
    "CREDIT_CARD": [
        "Please charge my card {v} for the renewal.",
        "Card number: {v}",
        "{name} paid with {v}, expiry 09/28.",
        "Can you check why {v} was declined?",
        "Bitte buchen Sie den Betrag von meiner Karte {v} ab.",
        "Mon numéro de carte est le {v}.",
        "El número de mi tarjeta es {v}, gracias.",
        "Il numero della carta è {v}.",
        "refund to {v} please",
        "The customer's credit card ({v}) has been flagged.",
        "Use {v} for the hotel booking.",
        "debit card {v} — please update billing",
    ],
    "PHONE_NUMBER": [
        "Call me at {v} tomorrow.",
        "You can reach {name} on {v}.",
        "My phone number is {v}",
        "{name}, tel. {v}",
        "Contact: {v}",
        "Bitte rufen Sie mich unter {v} an.",
        "Appelez-moi au {v} après 18h.",
        "Llámame al {v} cuando puedas.",
        "Chiamami al {v}.",
        "{name} ({v}) asked for a callback.",
        "mobile: {v}",
        "Text {v} when the package arrives.",
        "The office line is {v}, ask for {name}.",
        "Fax {v}",
        # Added 2026-12-04 after the seed-6006 set showed numbers after "my new number" and a
        # front desk missed (its templates are not copied here).
        "Her new number is {v}, the old one is gone.",
        "Switchboard {v}, then ask for extension 214.",
        "Our direct number: {v}",
        "Meine neue Nummer ist {v}.",
        "Mi nuevo número es {v}.",
        "Mon nouveau numéro : {v}",
        # Added 2026-12-04 after the seed-8008 set showed bare numbers with no telephony word
        # missed (its templates are not copied here): a number that stands alone, or after words
        # that say nothing about telephones.
        "If it's urgent: {v}",
        "{name}: {v}",
        "Try {v} if I'm not at my desk.",
        "Falls ich nicht da bin: {v}",
        "En cas d'urgence, {v}.",
        "Si necesitas algo, {v}.",
        "Per urgenze: {v}",
        "Bij vragen: {v}",
        "{v} is the best way to get hold of me.",
        "Any questions? {v}",
    ],
    "EMAIL_ADDRESS": [
        "Send the invoice to {v}.",
        "{name} <{v}>",
        "my email is {v}",
        "Schreiben Sie an {v}.",
        "Écrivez-moi à {v} s'il vous plaît.",
        "cc {v} on the thread",
        "Contact {name} via {v} for details.",
        "Reply to: {v}",
    ],
    "IBAN_CODE": [
        "Please transfer the deposit to {v}.",
        "IBAN: {v}",
        "Überweisen Sie den Betrag auf {v}.",
        "Virement sur le compte {v}, merci.",
        "{name}'s account is {v}.",
        "Transferencia a {v} antes del viernes.",
        "Pay the supplier at {v}",
        "Bonifico su {v}.",
    ],
    "IP_ADDRESS": [
        "The request came from {v}.",
        "Blocked {v} after five failed logins.",
        "ssh admin@{v}",
        "Server address: {v}",
        "{name} connected from {v} at 10:14.",
        "Whitelist {v} in the firewall.",
    ],
    "SWIFT_CODE": [
        "BIC: {v}",
        "Bank {name}, SWIFT {v}",
        "Use SWIFT/BIC {v} for the wire.",
        "BIC {v}, IBAN to follow",
        "The swift code is {v}.",
        "Code BIC de la banque : {v}",
    ],
}
# National ids: (entity, locale, Faker method, templates). Templates name the id, the way people
# write them; the last two of each list say nothing about what the number is.
IDS = [
    ("US_SSN", "en_US", "ssn", ["My SSN is {v}.", "Social Security Number: {v}", "ssn {v}", "SSN# {v} for {name}", "social security no. {v}, on file", "{name}'s social security number is {v}"]),
    ("US_ITIN", "en_US", "itin", ["ITIN: {v}", "My ITIN is {v}.", "taxpayer id number {v}", "{name}, ITIN {v}"]),
    ("UK_NINO", "en_GB", "ssn", ["National Insurance number: {v}", "My NI number is {v}.", "NINO {v}", "{name}'s national insurance no. is {v}", "NI no: {v}", "Please update NINO to {v}"]),
    ("FR_NIR", "fr_FR", "ssn", ["Numéro de sécurité sociale : {v}", "Mon NIR est {v}.", "n° de sécu {v}", "{name}, numéro INSEE {v}", "sécurité sociale {v}", "NIR: {v}"]),
    ("ES_NIF", "es_ES", "nif", ["Mi DNI es {v}.", "DNI: {v}", "NIF {v}", "{name}, con DNI {v}", "documento nacional de identidad {v}", "NIF del cliente: {v}"]),
    ("ES_NIE", "es_ES", "nie", ["Mi NIE es {v}.", "NIE: {v}", "número de identidad de extranjero {v}", "{name} (NIE {v})"]),
    ("IT_FISCAL_CODE", "it_IT", "ssn", ["Il mio codice fiscale è {v}.", "Codice fiscale: {v}", "C.F. {v}", "{name}, CF {v}", "codice fiscale del cliente {v}", "cod. fisc. {v}"]),
    ("NL_BSN", "nl_NL", "ssn", ["Mijn BSN is {v}.", "BSN: {v}", "burgerservicenummer {v}", "{name}, BSN {v}", "sofinummer {v}", "BSN van de klant: {v}"]),
    ("PL_PESEL", "pl_PL", "ssn", ["Mój PESEL to {v}.", "PESEL: {v}", "numer PESEL {v}", "{name}, PESEL {v}"]),
    ("CA_SIN", "en_CA", "ssn", ["My SIN is {v}.", "Social Insurance Number: {v}", "SIN {v}", "{name}'s social insurance number is {v}"]),
    ("IN_AADHAAR", "en_IN", "aadhaar_id", ["My Aadhaar number is {v}.", "Aadhaar: {v}", "aadhaar no {v}", "{name}, Aadhaar {v}"]),
    ("BR_CPF", "pt_BR", "cpf", ["Meu CPF é {v}.", "CPF: {v}", "{name}, CPF {v}", "CPF do cliente {v}", "cadastro {v}", "documento {v}"]),
    ("SE_PERSONNUMMER", "sv_SE", "ssn", ["Mitt personnummer är {v}.", "Personnummer: {v}", "{name}, personnr {v}", "pnr {v}"]),
    ("US_PASSPORT", "en_US", "passport_number", ["Passport number: {v}", "My passport no. is {v}.", "{name}, passport {v}", "passport {v}, expires 2031"]),
]
# The frozen test set's own templates. Seed 12012 (2026-12-06): the phone and look-alike
# templates below were written after the phone detector learnt the ways of writing that only
# phone numbers use (an area code in brackets, `1-` before 3-3-4, a trunk zero leading the area
# group, an extension, `001-` run on) and before this set was generated or measured; about half
# the phone templates carry no telephony word, and half the look-alike templates id words the
# phone detector's list may not hold, as for the sets before. The other entities keep seed
# 6006's templates (written on 2026-12-03, never tuned on), with new Faker draws.
# Retired phone templates — seed 11011: "Si no me encuentras en la oficina, marca el {v}.",
# "{name} pidió que le devuelvan la llamada al {v}.", "Für Rückfragen: {v}", "Appelle-moi sur
# mon portable, {v}.", "Scrivimi su WhatsApp al {v}.", "The plumber's number, in case the boiler
# acts up again: {v}", "Give {name} a buzz on {v} before noon.", "Neue Durchwahl der
# Buchhaltung: {v}", "{v} — {name} (Einkauf)", "Você pode falar comigo no {v}.", "Bel gerust als
# je vragen hebt: {v}", "I'm on leave next week; my deputy {name} takes calls on {v}."; its
# look-alikes: "Locker {v} was left open.", "Rechnung {v} ist bezahlt.", "Il campione {v} è
# stato analizzato.", "Population of the district: {v}", "Colis {v} livré au point relais.",
# "Checksum {v} matches the download.", "Lote {v} caducado.", "Build {v} was promoted to
# staging.".
# Retired phone templates — seed 10010: "Mobil erreichst du mich unter {v}.", "{name} gave {v}
# as the best contact.", "Merci de rappeler {name} au {v}.", "Contacto: {v}", "Chiamami al {v}
# dopo le 18.", "Bereikbaar via {v} (werkdagen).", "Details for the delivery driver: {v}",
# "{name}, {v}", "Tomorrow I'm at the Lyon site, {v}.", "Notfall: {v}", "Text me at {v} when
# you land.", "Wenn niemand abhebt: {v}"; its look-alikes: "Voucher {v} has been redeemed.",
# "Shelf {v} is empty.", "The meter read {v} this morning.", "Vorgang {v} abgeschlossen.",
# "Expediente {v} archivado.", "Pratica {v} chiusa.", "We processed {v} records last night.",
# "Seed {v} reproduces the bug.".
# Retired phone templates — seed 9009: "Neue Handynummer von {name}: {v}", "{name} can be
# contacted at {v} during office hours.", "Je suis joignable au {v} en journée.", "Para
# reservas, {v}.", "Il numero dell'ufficio è {v}.", "Spreek een bericht in op {v}.", "Emergency?
# {v}, day or night.", "Office: {v}", "{name}'s landline is {v}.", "I'll be on {v} all
# weekend.", "Ring the site manager on {v}.", "Numero: {v}"; its look-alikes: "Parcel {v} is
# held at the depot.", "Please mention {v} in any reply.", "Document {v} was archived.",
# "Consignment {v} arrived damaged.", "Firmware {v} is now required.", "Auftrag {v} wurde
# bearbeitet.", "{v} items were scanned today.", "Dossier {v} clôturé.".
# Seed 8008: "Sie erreichen mich tagsüber unter {v}.", "{name} left
# {v} as a callback number.", "Numéro de portable : {v}", "Per WhatsApp: {v}", "Si no contesto,
# deja un mensaje en el {v}.", "Call the night line, {v}, after 22:00.", "{name} — mobile {v}",
# "Per contattarmi: {v}", "Bel me even op {v}.", "Our support hotline {v} is free.", "Reach the
# courier at {v}.", "Pager/phone: {v}"; its look-alikes: "Order #{v} is on its way.", "Quote
# reference {v}", "Incident {v} resolved.", "SKU {v} restocked.", "Statement no. {v}
# attached.", "Version {v} rolled out.", "Receipt {v} printed.", "Policy number {v} renewed.".
# Seed 7007: "New phone, same me: my number is now {v}.", "{name} is on {v} until Friday.", "Ich
# bin unter {v} erreichbar.", "Mi número de teléfono es {v}.", "Il mio numero di cellulare è
# {v}.", "Vous pouvez me joindre au {v}.", "Dial {v} and press 2 for support.", "Emergency
# contact: {name}, {v}", "Whatsapp me on {v} if the door is locked.", "Front desk: {v} (24h)",
# "Leave a voicemail at {v}.", "Our office number is {v}.". Same keys as T and IDS (by entity),
# and look-alike templates of their own. The sets before (seeds 2002, 3003, 5005, 6006, 7007,
# 8008, 9009, 10010 and 11011) were retired once they had been measured and their misses worked on with dev; their
# figures are in the issue notes and benches/results/pii.
TEST_T = {
    "CREDIT_CARD": [
        "Refund the last order to card {v}.",
        "{name}'s corporate card is {v}.",
        "Zahlung per Kreditkarte {v} bestätigt.",
        "La tarjeta {v} fue rechazada dos veces.",
        "Numero carta di credito: {v}",
        "I paid with {v} and got no receipt.",
        "Update the card on file to {v} please",
        "Mastercard {v}, expiry 02/31",
    ],
    "PHONE_NUMBER": [
        "Wenn du mich im Büro nicht erreichst, versuch es unter {v}.",
        "{name} wechselt ab Montag den Standort, neue Nummer: {v}",
        "Pour toute question, composez le {v}.",
        "Le secrétariat répond au {v} du lundi au vendredi.",
        "Puedes localizarme en el {v} hasta las ocho.",
        "Per informazioni rivolgersi al {v}.",
        "Ring {name} on {v} if the van is late.",
        "Contact number for the site visit: {v}",
        "{name} (cell) {v}",
        "{v} (ask for {name})",
        "Mein Handy: {v}",
        "Onze receptie is bereikbaar op {v}.",
    ],
    "EMAIL_ADDRESS": [
        "Send the contract to {v} today.",
        "{name} <{v}> wrote:",
        "Kontakt per E-Mail: {v}",
        "Please unsubscribe {v}.",
    ],
    "IBAN_CODE": [
        "Our IBAN is {v}.",
        "{name} asked to be paid into {v}.",
        "IBAN du bénéficiaire : {v}",
        "Por favor ingresa en {v}.",
    ],
    "IP_ADDRESS": [
        "Traffic spiked from {v} overnight.",
        "Set the DNS server to {v}.",
        "ping {v} and report the latency",
    ],
    "SWIFT_CODE": [
        "BIC code: {v}",
        "Wire via SWIFT {v} please.",
        "Bank identifier (BIC) {v}",
    ],
}
TEST_IDS = {
    "US_SSN": ["SSN on the form: {v}", "Social Security No. {v}", "Verify SSN {v} for {name}."],
    "US_ITIN": ["ITIN: {v} (filer)", "The taxpayer's ITIN is {v}."],
    "UK_NINO": ["NI No. {v}", "National Insurance number {v} on the payslip"],
    "FR_NIR": ["Numéro de sécurité sociale {v}", "NIR {v} (assuré)"],
    "ES_NIF": ["DNI {v} del cliente", "Mi NIF es {v}."],
    "ES_NIE": ["NIE: {v}", "Con NIE {v} y pasaporte"],
    "IT_FISCAL_CODE": ["Codice fiscale {v}", "CF del titolare: {v}"],
    "NL_BSN": ["BSN {v}", "Burgerservicenummer: {v}"],
    "PL_PESEL": ["PESEL: {v}", "numer PESEL klienta {v}"],
    "CA_SIN": ["SIN {v} on the T4", "Social Insurance Number {v}"],
    "IN_AADHAAR": ["Aadhaar {v}", "My Aadhaar number: {v}"],
    "BR_CPF": ["CPF {v}", "CPF do pagador: {v}"],
    "SE_PERSONNUMMER": ["Personnummer {v}", "personnr: {v}"],
    "US_PASSPORT": ["Passport number {v}", "passport no. {v} (US)"],
}
TEST_LOOKALIKE = [
    "Kassenbon {v} wurde storniert.",
    "Matrícula {v} registrada.",
    "Run {v} finished in 42 minutes.",
    "Sample size: {v}",
    "Lottery draw {v}: no winner this week.",
    "Fattura {v} saldata.",
    "Dossier médical {v} transmis.",
    "The counter stopped at {v}.",
]
# Look-alike templates of retired test sets (seeds 5005 and 3003); the development set uses
# them with its own (LOOKALIKE, below).
RETIRED_LOOKALIKE = [
    "Shipment {v} left the warehouse.",
    "Booking reference {v}",
    "Case #{v} escalated to tier 2.",
    "Part no. {v} is discontinued.",
    "Account statement {v} attached.",
    "Release {v} fixes the crash.",
    "Barcode {v} did not scan.",
    "Member ID {v} renewed.",
    "Order number {v} has shipped.",
    "Your confirmation code is {v}.",
    "Ref no. {v}",
    "Tracking ID: {v}",
    "Customer number {v} was merged.",
    "Version {v} is out.",
    "Serial {v} failed QA.",
    "Item {v} is back in stock.",
]
LOOKALIKE = [
    "Order {v} shipped today.",
    "Your tracking number is {v}.",
    "Invoice {v} is overdue.",
    "Reference: {v}",
    "Ticket {v} was closed by {name}.",
    "See item {v} in the catalogue.",
    "Build {v} passed all checks.",
    "Batch {v} expires soon.",
    # Added 2026-12-04 to weigh what a bare number standing alone costs: id words of other kinds
    # and languages, and numbers with no word before them at all.
    "Lot {v} passed inspection.",
    "Container {v} cleared customs.",
    "Claim {v} was approved on appeal.",
    "Transaction {v} settled overnight.",
    "Employee {name}, staff no. {v}",
    "Bestellnummer {v} wurde storniert.",
    "Commande {v} expédiée.",
    "Pedido {v} entregado.",
    "Ordine {v} in consegna.",
    "{v} was merged into the main record.",
    "The checksum came out as {v}.",
] + RETIRED_LOOKALIKE


def ensure_faker():
    rerun_inside(VENV, FAKER, "faker", __file__)


class Gen:
    def __init__(self, seed, test):
        from faker import Faker

        self.rng = random.Random(seed)
        self.test = test
        self.fakers = {}
        self.seed = seed
        self.Faker = Faker
        self.lines = []

    def fake(self, locale):
        if locale not in self.fakers:
            f = self.Faker(locale)
            f.seed_instance(self.seed + len(self.fakers))
            self.fakers[locale] = f
        return self.fakers[locale]

    def template(self, key):
        """A template for `key` (an entity, or "lookalike") from this set's own lists."""
        if self.test:
            table = {**TEST_T, **TEST_IDS, "lookalike": TEST_LOOKALIKE}
        else:
            table = {**T, **{e: t for e, _, _, t in IDS}, "lookalike": LOOKALIKE}
        return self.rng.choice(table[key])

    def emit(self, template, value, entity, locale, group):
        name = self.fake(locale).name()
        head, tail = template.split("{v}")
        head = head.replace("{name}", name)
        tail = tail.replace("{name}", name)
        text = head + value + tail
        entities = [] if entity is None else [{"type": entity, "start": len(head), "end": len(head) + len(value), "value": value}]
        self.lines.append({"text": text, "entities": entities, "locale": locale, "group": group})

    def group_digits(self, digits, sizes):
        sep = self.rng.choice([" ", "-", ""])
        out, at = [], 0
        for s in sizes:
            out.append(digits[at:at + s])
            at += s
        return sep.join(out)

    def card(self, kind):
        n = self.fake("en_US").credit_card_number(card_type=kind)
        if len(n) == 15 and n[:2] in ("34", "37"):
            return self.group_digits(n, [4, 6, 5])
        if len(n) == 14:
            return self.group_digits(n, [4, 6, 4])
        sizes = [4] * (len(n) // 4) + ([len(n) % 4] if len(n) % 4 else [])
        return self.group_digits(n, sizes)

    def iban(self, locale):
        v = self.fake(locale).iban()
        if self.rng.random() < 0.5:
            return " ".join(v[i:i + 4] for i in range(0, len(v), 4))
        return v

    def positives(self, per_entity):
        for _ in range(per_entity):
            self.emit(self.template("CREDIT_CARD"), self.card(self.rng.choice(CARD_TYPES)), "CREDIT_CARD", "en_US", "CREDIT_CARD")
        for _ in range(per_entity * 2):
            loc = self.rng.choice(LOCALES)
            self.emit(self.template("PHONE_NUMBER"), self.fake(loc).phone_number(), "PHONE_NUMBER", loc, "PHONE_NUMBER")
        for _ in range(per_entity):
            loc = self.rng.choice(LOCALES)
            f = self.fake(loc)
            v = self.rng.choice([f.email, f.company_email, f.free_email])()
            self.emit(self.template("EMAIL_ADDRESS"), v, "EMAIL_ADDRESS", loc, "EMAIL_ADDRESS")
        for _ in range(per_entity):
            loc = self.rng.choice(IBAN_LOCALES)
            self.emit(self.template("IBAN_CODE"), self.iban(loc), "IBAN_CODE", loc, "IBAN_CODE")
        for _ in range(per_entity):
            f = self.fake("en_US")
            v = self.rng.choice([f.ipv4_public, f.ipv4_private, f.ipv6])()
            self.emit(self.template("IP_ADDRESS"), v, "IP_ADDRESS", "en_US", "IP_ADDRESS")
        for _ in range(per_entity // 2):
            loc = self.rng.choice(IBAN_LOCALES)
            v = self.fake(loc).swift(length=self.rng.choice([8, 11]))
            self.emit(self.template("SWIFT_CODE"), v, "SWIFT_CODE", loc, "SWIFT_CODE")
        for entity, loc, method, _ in IDS:
            for _ in range(per_entity // 2):
                v = getattr(self.fake(loc), method)()
                if entity == "US_SSN" and self.rng.random() < 0.3:
                    v = v.replace("-", "")
                self.emit(self.template(entity), v, entity, loc, entity)

    def luhn_broken(self):
        n = self.fake("en_US").credit_card_number(card_type=self.rng.choice(CARD_TYPES))
        n = n[:-1] + str((int(n[-1]) + self.rng.randrange(1, 10)) % 10)
        return self.group_digits(n, [4] * (len(n) // 4) + ([len(n) % 4] if len(n) % 4 else []))

    def lookalikes(self, count):
        f = self.fake("en_US")
        makers = {
            "luhn_invalid_card": self.luhn_broken,
            "ean13": f.ean13,
            "isbn13": f.isbn13,
            "isbn10": f.isbn10,
            "unix_time": lambda: str(int(f.unix_time())),
            "unix_time_ms": lambda: str(int(f.unix_time() * 1000)),
            "iso_datetime": lambda: f.date_time().isoformat(),
            "date": lambda: f.date(pattern=self.rng.choice(["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y"])),
            "order_number": lambda: f.numerify(self.rng.choice(["#########", "##########", "############", "###-#######-#######"])),
            "invoice_id": lambda: f.bothify(self.rng.choice(["INV-####-######", "INV####/##", "PO-########", "??-#####-##"])).upper(),
            "tracking": lambda: f.bothify(self.rng.choice(["1Z###??#########", "############", "94001#################"])).upper(),
            "version": lambda: f.numerify(self.rng.choice(["%.#.##", "%#.#.#####.####", "v%.##.#", "%.%.%-rc#"])),
            # Invalid as an SSN and as an ITIN: area 000 or 666, group 00, serial 0000, or 9xx with a
            # group outside the ITIN ranges.
            "invalid_ssn": lambda: f.numerify(self.rng.choice(["000-##-####", "666-##-####", "9##-0#-####", "9##-4#-####", "###-00-####", "###-##-0000"])),
            "uuid": f.uuid4,
            "sha1": f.sha1,
            "price": lambda: f"${f.pyint(1000, 99999):,}.{f.pyint(0, 99):02d}",
            "coordinates": lambda: f"{f.latitude()}, {f.longitude()}",
        }
        names = sorted(makers)
        for i in range(count):
            kind = names[i % len(names)]
            self.emit(self.template("lookalike"), str(makers[kind]()), None, "en_US", "lookalike:" + kind)


def write_set(path, g, lines):
    """Shuffle `lines` with `g`'s generator, write them as JSON lines and say how many of each
    entity they label (the template sets' writer)."""
    g.rng.shuffle(lines)
    with open(path, "w") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    counts = {}
    for line in lines:
        for e in line["entities"]:
            counts[e["type"]] = counts.get(e["type"], 0) + 1
    print(f"{path}: {len(lines)} lines, {dict(sorted(counts.items()))}", file=sys.stderr)


def write(path, seed, test, per_entity, lookalikes):
    g = Gen(seed, test)
    g.positives(per_entity)
    g.lookalikes(lookalikes)
    g.rng.shuffle(g.lines)
    with open(path, "w") as out:
        for line in g.lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{path}: {len(g.lines)} lines", file=sys.stderr)


def main():
    ensure_faker()
    import faker

    assert faker.VERSION == FAKER.split("==")[1], f"pinned {FAKER}, found {faker.VERSION}"
    which = sys.argv[sys.argv.index("--set") + 1] if "--set" in sys.argv else "both"
    if which in ("dev", "both"):
        write(os.path.join(HERE, "dev.jsonl"), 1001, False, 200, 1000)
    if which in ("test", "both"):
        write(os.path.join(HERE, "test.jsonl"), 12012, True, 200, 1000)


if __name__ == "__main__":
    main()
