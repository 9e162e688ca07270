"""Every PII entity Warden knows, through the official openai SDK: under `pii = "redact"` the
provider sees a typed placeholder (the mock echoes what it received), and under
`pii = "restore"` the client gets its own value back — whole answers and streams of many
events, where a value's placeholder is split across events."""

import openai
import pytest

from conftest import GUARDED_KEY, REDACT_KEY

# (what the text says, the value, the placeholder type it becomes)
ENTITIES = [
    ("card", "3530 1113 3330 0000", "CARD"),
    ("card", "6759 6498 2643 8453", "CARD"),
    ("card", "2200 0000 0000 0004", "CARD"),
    ("call", "+44 20 7946 0958", "PHONE"),
    ("call me at", "502.546.0536x160", "PHONE"),
    ("appelez le", "01 53 52 46 62", "PHONE"),
    ("Telefon", "(07128) 20003", "PHONE"),
    ("my SSN is", "123456789", "SSN"),
    ("ITIN", "912-70-1234", "ITIN"),
    ("NI number", "AB 12 34 56 C", "NATIONAL_ID"),
    ("NIR", "2 55 08 14 168 025 38", "NATIONAL_ID"),
    ("DNI", "12345678Z", "NATIONAL_ID"),
    ("NIE", "X1234567L", "NATIONAL_ID"),
    ("codice fiscale", "RSSMRA85T10A562S", "TAX_ID"),
    ("BSN", "111222333", "NATIONAL_ID"),
    ("PESEL", "44051401359", "NATIONAL_ID"),
    ("SIN", "130 692 544", "NATIONAL_ID"),
    ("Aadhaar", "2345 6789 0124", "NATIONAL_ID"),
    ("CPF", "529.982.247-25", "TAX_ID"),
    ("personnummer", "811218-9876", "NATIONAL_ID"),
    ("Steuer-ID", "86095742719", "TAX_ID"),
    ("IBAN", "SA03 8000 0000 6080 1016 7519", "IBAN"),
    ("BIC", "DEUTDEFF500", "BIC"),
    ("passport no.", "X1234567", "PASSPORT"),
    ("driving licence", "MORGA753116SM9IJ", "LICENCE"),
    # Written as the provider reads them but the patterns do not: fullwidth digits (CJK input
    # methods), invisible characters inside, other scripts' digits, dashes, no-break spaces.
    ("card", "４１１１ １１１１ １１１１ １１１１", "CARD"),
    ("card", "5555\u200b5555\u200b5555\u200b4444", "CARD"),
    ("call", "٠١٥٣٥٢٤٦٦٢", "PHONE"),
    ("call", "555–123–4567", "PHONE"),
    ("IBAN", "DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000", "IBAN"),
]
IDS = [f"{kind}-{value.encode('ascii', 'backslashreplace').decode()}" for kind, value, _ in ENTITIES]


def ask(gateway, key, text, stream):
    c = openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0, timeout=30)
    messages = [{"role": "user", "content": text}]
    if not stream:
        return c.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content
    chunks = c.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
    return "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("kind", "value", "placeholder"), ENTITIES, ids=IDS)
def test_redact_sends_a_placeholder_upstream(gateway, kind, value, placeholder, stream):
    reply = ask(gateway, REDACT_KEY, f"Please file {kind} {value} today. mock:chunks=40", stream)
    assert value not in reply, reply
    assert f"{kind} [{placeholder}_1] today." in reply, reply


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("kind", "value", "placeholder"), ENTITIES, ids=IDS)
def test_restore_gives_the_client_its_value_back(gateway, kind, value, placeholder, stream):
    prompt = f"Please file {kind} {value} today. mock:chunks=40"
    assert ask(gateway, GUARDED_KEY, prompt, stream) == f"echo: {prompt}"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_secret_split_by_invisible_characters_is_redacted_in_the_answer(gateway, stream):
    # The provider's answer carries a GitHub token with zero-width spaces inside, over 25
    # events; the project redacts secrets in answers.
    leak = "Use ghp_0123456789\u200babcdefghij\u200bklmnopqrstuvwxyzAB to deploy."
    knobs = f"mock:reply_hex={leak.encode().hex()} mock:chunks=25"
    assert ask(gateway, GUARDED_KEY, knobs, stream) == "Use [SECRET_1] to deploy."


def test_a_fullwidth_value_escaped_by_the_client_is_redacted_not_refused(gateway):
    # Python's json.dumps escapes every character outside ASCII (`\uff14…`) unless told not to;
    # the value is replaced in that form too.
    import json

    import httpx

    body = json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Please file card ４１１１ １１１１ １１１１ １１１１ today."}]})
    assert "\\uff14" in body
    r = httpx.post(f"{gateway.v1}/chat/completions", content=body, timeout=30, headers={
        "Authorization": f"Bearer {REDACT_KEY}", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "echo: Please file card [CARD_1] today."
