//! The detector table: each detector has an id, a category, a Hyperscan pattern (no lookaround
//! or backreferences: what Hyperscan cannot express is confirmed by a validator), a validator
//! that confirms a candidate and names the value's span inside it, and a placeholder type.

use crate::guard::pii::{cards, ids, phone, Candidate};
use crate::guard::Category;

/// Month names and their abbreviations in English, German, French, Spanish and Italian (the
/// languages of the date-of-birth context words), as one alternation (a macro: `concat!` takes
/// literals only).
macro_rules! months {
    () => {
        concat!(
            "(?:jan(?:uary|uar)?|jänner|feb(?:ruary|ruar)?|mar(?:ch)?|märz|apr(?:il)?|may|mai|",
            "june?|juni|july?|juli|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|okt(?:ober)?|",
            "nov(?:ember)?|dec(?:ember)?|dez(?:ember)?|janvier|février|mars|avril|juin|juillet|",
            "août|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|",
            "agosto|septiembre|setiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|",
            "maggio|giugno|luglio|settembre|ottobre|dicembre)"
        )
    };
}

pub struct Detector {
    pub id: &'static str,
    pub category: Category,
    pub pattern: &'static str,
    pub caseless: bool,
    /// Confirms a candidate match; returns the value's span within it.
    pub validate: fn(&Candidate) -> Option<(usize, usize)>,
    /// `EMAIL` → `[EMAIL_1]`.
    pub placeholder: &'static str,
}

const fn pii(
    id: &'static str,
    pattern: &'static str,
    validate: fn(&Candidate) -> Option<(usize, usize)>,
    placeholder: &'static str,
) -> Detector {
    Detector {
        id,
        category: Category::Pii,
        pattern,
        caseless: false,
        validate,
        placeholder,
    }
}

const fn secret(
    id: &'static str,
    pattern: &'static str,
    validate: fn(&Candidate) -> Option<(usize, usize)>,
) -> Detector {
    Detector {
        id,
        category: Category::Secrets,
        pattern,
        caseless: false,
        validate,
        placeholder: "SECRET",
    }
}

const fn safety(id: &'static str, pattern: &'static str) -> Detector {
    Detector {
        id,
        category: Category::ContentSafety,
        pattern,
        caseless: true,
        validate: whole,
        placeholder: "UNSAFE",
    }
}

/// Table order breaks ties between overlapping findings (more specific detectors first).
pub const DETECTORS: &[Detector] = &[
    // Secrets. Warden's own keys first: a client pasting its gateway key into a prompt would
    // hand it to the provider (`wdn_` and 64 hex digits from the control plane; standalone
    // configs name their own, most with the same prefix).
    secret("warden_api_key", r"\bwdn_[A-Za-z0-9_\-]{16,}", whole),
    secret("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}", whole),
    secret(
        "openai_api_key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
        whole,
    ),
    secret("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}\b", whole),
    secret("aws_access_key_id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", whole),
    Detector {
        id: "aws_secret_access_key",
        category: Category::Secrets,
        pattern: r#"aws_?secret_?access_?key["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9/+=]{40}"#,
        caseless: true,
        validate: last_40,
        placeholder: "SECRET",
    },
    secret(
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b",
        whole,
    ),
    secret("gitlab_token", r"\bglpat-[A-Za-z0-9_\-]{20,100}", whole),
    secret("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", whole),
    secret(
        "stripe_key",
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,200}\b",
        whole,
    ),
    secret(
        "jwt",
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        whole,
    ),
    secret(
        "pem_private_key",
        r"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----",
        whole,
    ),
    Detector {
        id: "generic_secret_assignment",
        category: Category::Secrets,
        pattern: r#"\b(?:api[_\-]?key|secret|token|password|passwd|access[_\-]?key)["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9_\-/+=.]{16,}"#,
        caseless: true,
        validate: high_entropy_tail,
        placeholder: "SECRET",
    },
    // Content safety (English, German, French, Spanish, Italian).
    safety(
        "safety_self_harm",
        r"\b(?:kill\s+myself|end\s+my\s+(?:own\s+)?life|want\s+to\s+die|how\s+(?:do\s+i|to)\s+(?:cut|hurt|harm)\s+myself|(?:best|painless)\s+(?:way|method)s?\s+to\s+(?:die|commit\s+suicide)|mich\s+umbringen|mir\s+das\s+leben\s+nehmen|me\s+suicider|me\s+tuer|quiero\s+morir|suicidarme|voglio\s+morire|uccidermi)\b",
    ),
    safety(
        "safety_violence",
        r"\bhow\s+(?:do\s+i|to|can\s+i)\s+(?:make|build|assemble)\s+an?\s+(?:bomb|pipe\s+bomb|explosive\s+device|nerve\s+agent)(?:\s*[?.!,;]|\s+(?:at|in|to|for|with|from|using|that|which|and|out\s+of)\b|\s*$)|\bshoot\s+up\s+(?:a|the|my)\s+(?:school|church|mosque|synagogue|office)|\bplan(?:ning)?\s+a\s+(?:mass\s+shooting|massacre|terror(?:ist)?\s+attack)|\bwie\s+baue\s+ich\s+eine\s+bombe|\bcomment\s+fabriquer\s+une\s+bombe|\bc[óo]mo\s+hacer\s+una\s+bomba|\bcome\s+costruire\s+una\s+bomba",
    ),
    safety(
        "safety_minors_sexual",
        r"\b(?:child|children|minor|minors|underage|preteen|kid|kids)\s+(?:porn|pornography|sex|sexual|nude|nudes|naked|erotic)\b|\b(?:sexual|erotic|nude|naked)\s+(?:content|images?|photos?|pictures?|story|stories)\s+(?:of|with|involving)\s+(?:a\s+)?(?:child|children|minor|minors|kid|kids)\b|\bkinderpornografie\b|\bp[ée]dopornographie\b|\bpornograf[íi]a\s+infantil\b|\bpedopornografia\b",
    ),
    safety(
        "safety_hate",
        r"\b(?:kill|exterminate|gas|eradicate|wipe\s+out)\s+(?:all\s+)?(?:the\s+)?(?:jews|muslims|christians|blacks|whites|gays|immigrants|refugees|arabs|asians|roma)\b|\b(?:jews|muslims|blacks|gays|immigrants|refugees|arabs|asians|roma)\s+(?:are|is)\s+(?:subhuman|vermin|animals|a\s+disease)\b",
    ),
    // PII. National ids before cards and phones: on the same span, the more specific wins.
    // Letters with diacritics (Latin-1 Supplement to Latin Extended-B) and Cyrillic count in the
    // local part and the domain (`jürgen.müller@beispiel.de`, `иван@пример.рф`): with ASCII only,
    // the address was found from its first ASCII run after the last such letter, and the name
    // before it went upstream (`jürgen.mü[EMAIL_1]`). Scripts written without spaces (CJK) are
    // left out, so an address run on to a sentence takes none of its words. The start needs no
    // `\b`: the leftmost start is reported, and a `\b` cannot precede a non-ASCII letter.
    pii(
        "email",
        concat!(
            r"[A-Za-z0-9._%+\-\x{00C0}-\x{024F}\x{0400}-\x{04FF}]+",
            r"@[A-Za-z0-9\-\x{00C0}-\x{024F}\x{0400}-\x{04FF}]+",
            r"(?:\.[A-Za-z0-9\-\x{00C0}-\x{024F}\x{0400}-\x{04FF}]+)*",
            r"\.(?:[A-Za-z]{2,24}\b|[\x{0400}-\x{04FF}]{2,24})",
        ),
        whole,
        "EMAIL",
    ),
    pii(
        "it_fiscal_code",
        r"\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b",
        ids::it_fiscal_code,
        "TAX_ID",
    ),
    pii("es_dni", r"\b\d{8}-?[A-Z]\b", ids::es_dni, "NATIONAL_ID"),
    pii(
        "es_nie",
        r"\b[XYZ]-?\d{7}-?[A-Z]\b",
        ids::es_nie,
        "NATIONAL_ID",
    ),
    pii(
        "uk_nino",
        r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Z]\b",
        ids::uk_nino,
        "NATIONAL_ID",
    ),
    pii(
        "fr_nir",
        r"\b[1278] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b",
        ids::fr_nir,
        "NATIONAL_ID",
    ),
    pii(
        "us_ssn",
        r"\b\d{3}[\- ]?\d{2}[\- ]?\d{4}\b",
        ids::us_ssn,
        "SSN",
    ),
    pii(
        "us_itin",
        r"\b9\d{2}[\- ]?\d{2}[\- ]?\d{4}\b",
        ids::us_itin,
        "ITIN",
    ),
    pii(
        "nl_bsn",
        r"\b\d{9}\b|\b\d{4}\.\d{2}\.\d{3}\b",
        ids::nl_bsn,
        "NATIONAL_ID",
    ),
    pii(
        "ca_sin",
        r"\b\d{3}[ \-]?\d{3}[ \-]?\d{3}\b",
        ids::ca_sin,
        "NATIONAL_ID",
    ),
    pii("pl_pesel", r"\b\d{11}\b", ids::pl_pesel, "NATIONAL_ID"),
    pii(
        "de_tax_id",
        r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b",
        ids::de_tax_id,
        "TAX_ID",
    ),
    pii(
        "br_cpf",
        r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b",
        ids::br_cpf,
        "TAX_ID",
    ),
    pii(
        "in_aadhaar",
        r"\b[1-9]\d{3} ?\d{4} ?\d{4}\b",
        ids::in_aadhaar,
        "NATIONAL_ID",
    ),
    pii(
        "se_personnummer",
        r"\b(?:\d{2})?\d{6}[\-+]?\d{4}\b",
        ids::se_personnummer,
        "NATIONAL_ID",
    ),
    // Passport and driving-licence numbers have no shape of their own: the pattern finds the
    // word, the validator takes the number that follows it (see `ids::document_after`).
    Detector {
        id: "passport",
        category: Category::Pii,
        pattern: r"\b(?:passport|passeport|reisepass|pasaporte|passaporto|paszport)\b",
        caseless: true,
        validate: ids::document_after,
        placeholder: "PASSPORT",
    },
    Detector {
        id: "drivers_licence",
        category: Category::Pii,
        pattern: r"\b(?:driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|f[üu]hrerschein|permis\s+de\s+conduire|licencia\s+de\s+conducir)\b",
        caseless: true,
        validate: ids::document_after,
        placeholder: "LICENCE",
    },
    // Typed in lower case (`de89 3704 …`) it is the same account to the model: read in one case
    // throughout, and lower case only bare or in groups of four, so that a candidate does not run
    // on into the words after an upper-case id (`ZZ943434T on the payslip`, an IBAN candidate that
    // no checksum confirms, would hide the insurance number inside it).
    pii(
        "iban",
        r"\b(?:[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}|[a-z]{2}\d{2}(?:[a-z0-9]{11,30}|(?: [a-z0-9]{4}){2,7}(?: [a-z0-9]{1,4})?))\b",
        ids::iban,
        "IBAN",
    ),
    pii(
        "bic",
        r"\b[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b",
        ids::bic,
        "BIC",
    ),
    pii("ipv4", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", ipv4, "IP"),
    pii(
        "ipv6",
        r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}:?[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4}){0,6}\b",
        ipv6,
        "IP",
    ),
    pii(
        "payment_card",
        r"\b\d(?:[ \-]?\d){11,18}\b",
        cards::card,
        "CARD",
    ),
    pii(
        "phone",
        r"(?:\+\s?\d[\d \-./()]{5,22}\d|(?:\b1[ .\-]?)?\(\d{1,5}\)\s?[\-.]?\d[\d \-./]{3,14}\d|\b(?:1[ .\-])?\d{2,5}[ .\-/]\d[\d \-./]{2,14}\d|\b\d{7,12})(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?\b",
        phone::phone,
        "PHONE",
    ),
    Detector {
        id: "date_of_birth",
        category: Category::Pii,
        // A context word, then a date: 12.03.1985, 1985-03-12, 12 March 1985, 12th of March,
        // 1985, March 12, 1985, 12. März 1985, 12 de marzo de 1985.
        pattern: concat!(
            r"\b(?:born on|born|date of birth|dob|birthday|geboren am|geburtsdatum|n[ée]e? le|nacid[oa] el|fecha de nacimiento|nat[oa] il)[:\s]{1,3}",
            r"(?:\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}|\d{4}[./\-]\d{1,2}[./\-]\d{1,2}",
            r"|\d{1,2}(?:st|nd|rd|th|\.)? (?:of |de )?",
            months!(),
            r"\.?,? (?:de )?\d{4}|",
            months!(),
            r"\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4})\b",
        ),
        caseless: true,
        validate: date_after_context,
        placeholder: "DOB",
    },
    pii(
        "street_address",
        r"\b\d{1,5} (?:[A-Z][a-z]+ ){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl)\b",
        whole,
        "ADDRESS",
    ),
];

fn whole(c: &Candidate) -> Option<(usize, usize)> {
    Some((0, c.end - c.start))
}

pub fn ipv4(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    let s = std::str::from_utf8(m).ok()?;
    let ok = s
        .split('.')
        .all(|o| o.parse::<u8>().is_ok() && (o.len() == 1 || !o.starts_with('0')));
    ok.then_some((0, m.len()))
}

fn ipv6(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    let s = std::str::from_utf8(m).ok()?;
    (s.contains("::") || s.matches(':').count() == 7).then_some(())?;
    s.parse::<std::net::Ipv6Addr>().ok().map(|_| (0, m.len()))
}

fn last_40(c: &Candidate) -> Option<(usize, usize)> {
    let len = c.end - c.start;
    Some((len - 40, len))
}

/// A letter an e-mail address may hold besides ASCII, as the `email` pattern reads them: Latin
/// letters with diacritics and Cyrillic.
pub fn address_letter(c: char) -> bool {
    matches!(c, '\u{00C0}'..='\u{024F}' | '\u{0400}'..='\u{04FF}')
}

/// The context words of `date_of_birth`, as its pattern spells them (lowercase), longest first
/// where one begins another.
const BIRTH_WORDS: &[&str] = &[
    "born on",
    "born",
    "date of birth",
    "dob",
    "birthday",
    "geboren am",
    "geburtsdatum",
    "née le",
    "né le",
    "nee le",
    "ne le",
    "nacido el",
    "nacida el",
    "fecha de nacimiento",
    "nato il",
    "nata il",
];

/// The date after the context words (and the colon or spaces after them).
fn date_after_context(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    let word = BIRTH_WORDS
        .iter()
        .find(|w| m.len() >= w.len() && m[..w.len()].eq_ignore_ascii_case(w.as_bytes()))?;
    let start = word.len()
        + m[word.len()..]
            .iter()
            .take_while(|b| matches!(b, b':') || b.is_ascii_whitespace())
            .count();
    (start < m.len()).then_some((start, m.len()))
}

/// The assigned value, if it looks like a random secret (≥ 3.5 bits of entropy per character,
/// and not all letters).
fn high_entropy_tail(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    let start = m
        .iter()
        .rposition(|b| matches!(b, b'=' | b':' | b'"' | b'\'' | b' '))?
        + 1;
    let v = &m[start..];
    if v.len() < 16 || v.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let mut counts = [0u32; 256];
    for &b in v {
        counts[b as usize] += 1;
    }
    let n = v.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    (entropy >= 3.5).then_some((start, m.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&Candidate) -> Option<(usize, usize)>, text: &str) -> Option<(usize, usize)> {
        let plans = crate::guard::pii::Plans::empty();
        f(&Candidate {
            text: text.as_bytes(),
            start: 0,
            end: text.len(),
            phones: &plans,
        })
    }

    #[test]
    fn validators_accept_real_values_and_reject_lookalikes() {
        assert!(
            check(ipv4, "192.168.1.20").is_some()
                && check(ipv4, "256.1.1.1").is_none()
                && check(ipv4, "01.2.3.4").is_none()
        );
        assert!(check(high_entropy_tail, "api_key=Zx81kQp0Lm3Rt7Vb2Nc5").is_some());
        assert!(check(high_entropy_tail, "password=aaaaaaaaaaaaaaaaaaaa").is_none());
        assert_eq!(
            check(date_after_context, "born on 12.03.1985"),
            Some((8, 18))
        );
        assert_eq!(
            check(date_after_context, "DOB: May 06, 1934"),
            Some((5, 17))
        );
    }
}
