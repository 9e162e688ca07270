//! Phone numbers, checked against libphonenumber's numbering plans (the `phonenumber` crate's
//! metadata). The crate's own validator keeps one 100-entry regex cache behind a `Mutex` shared by
//! every caller — a cross-shard lock, and a cache that a couple of dozen regions thrash — so the
//! data plane reads the metadata once at start and compiles each region's patterns itself; every
//! shard gets its own copy ([`Plans`] clones into the shard's scratch).
//!
//! Decision, for a candidate shaped like a phone number:
//! - `+CC …`, `00CC …`, `011 CC …`: the country code must exist and the rest have a possible
//!   length for it, a whole number's and not a local one's (valid for the regions we hold plans
//!   for);
//! - a national number with separators or brackets: valid in one of the hint regions, or possible
//!   there with a phone word before it ("call", "tel.", "Telefon", …), an extension word after
//!   it, a label ending the phrase after it as signatures write them ("… (office)", "… Fax"), or
//!   written as only phone numbers are (`shape::written_as_phone`: the area code in brackets,
//!   `1-…` before a 3-3-4 grouping, a trunk zero leading the area code's group, an extension);
//! - bare digits, and groupings that belong to other numbers (123-45-6789, 12-3456789, four
//!   groups of four, a one-digit check group): possible in a hint region, and a phone word
//!   before it;
//! - bare digits (9 to 12) led by one zero that are valid as written at home in a hint region
//!   (its trunk prefix, or an Italian area code) and that no id word ("order", "Rechnung", `#`,
//!   `no.`) names in their clause: `Office: 0153524662` is a phone number without a phone word.
//!   Order numbers, Unix times and counts are not written with a leading zero;
//! - with `phone_standalone` on (off by default), any bare digits (9 to 12) valid as written at
//!   home so (NANP numbers with or without their `1`, Polish and Spanish numbers, Italian
//!   mobiles): it catches more numbers nobody named, and redacts unnamed order numbers and Unix
//!   times that happen to be valid somewhere (docs/guardrails.md has both);
//! - never a date, a dotted quad, or part of a longer id (`INV-2024-000123`).

use phonenumber::metadata::{Metadata, DATABASE};
use regex::{Regex, RegexBuilder};

use super::{digits, Candidate};

mod id_words;
mod shape;
mod words;
use id_words::ID_WORDS;
use shape::{
    exit_code_run_on, groups, main_part, not_a_phone_shape, strip_bracketed_trunk, written_as_phone,
};
use words::{LABELS_AFTER, WORDS_AFTER, WORD_INDEX};

/// Hint regions, in order, when the project names none: the numbering plans a national number
/// (one without a country code) is checked against.
pub const DEFAULT_REGIONS: &[&str] = &[
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "IE", "PT", "PL", "SE", "DK", "NO",
    "FI", "IN", "CA", "AU", "NZ", "BR", "MX", "JP",
];

/// One region's numbering plan, compiled.
#[derive(Clone)]
struct Plan {
    code: u16,
    national_prefix: Option<String>,
    /// Lengths of a whole national significant number.
    lengths: Vec<u16>,
    /// Lengths of a number dialled without its area code (Australia's eight-digit locals, the
    /// NANP's seven): possible at home, never after a country code.
    local_lengths: Vec<u16>,
    general: Regex,
    /// Fixed line, mobile, toll free, premium, shared cost, personal, VoIP, UAN, pager.
    types: Vec<Regex>,
}

/// The numbering plans of the hint regions, compiled; one copy per shard.
#[derive(Clone, Default)]
pub struct Plans {
    plans: Vec<Plan>,
    /// Bare numbers valid as written need no phone word (`phone_standalone`).
    standalone: bool,
}

impl Plans {
    /// Compile the plans of `regions` (ISO 3166 codes) from the metadata.
    pub fn new(regions: &[&str]) -> Result<Plans, String> {
        let mut plans = Vec::with_capacity(regions.len());
        for region in regions {
            let meta = DATABASE
                .by_id(*region)
                .ok_or_else(|| format!("no numbering plan for region {region:?}"))?;
            plans.push(Plan::new(meta).map_err(|e| format!("region {region}: {e}"))?);
        }
        Ok(Plans {
            plans,
            standalone: false,
        })
    }

    /// Take bare numbers valid as written in a hint region without a phone word (see the module
    /// header).
    pub fn standalone(mut self, on: bool) -> Plans {
        self.standalone = on;
        self
    }

    /// Whether bare numbers valid as written are taken without a phone word.
    pub fn is_standalone(&self) -> bool {
        self.standalone
    }

    /// No plans: national numbers are never confirmed (tests of other validators).
    pub fn empty() -> Plans {
        Plans::default()
    }

    fn valid_national(&self, d: &str) -> (bool, bool) {
        let (mut valid, mut possible) = (false, false);
        for plan in &self.plans {
            let nsn = match &plan.national_prefix {
                Some(p) if d.len() > p.len() && d.starts_with(p.as_str()) => &d[p.len()..],
                _ => d,
            };
            let (v, p) = plan.check(nsn);
            valid |= v;
            possible |= p;
            if valid {
                break;
            }
        }
        (valid, possible)
    }

    /// Whether bare digits are valid as a number is written at home in one of the hint regions:
    /// with the region's trunk prefix where it has one (`0151…`, not `151…`); the NANP's `1` is
    /// left off as often as not.
    fn valid_as_written(&self, d: &str) -> bool {
        self.plans.iter().any(|plan| {
            let nsn = match &plan.national_prefix {
                Some(p) if plan.code == 1 => d
                    .strip_prefix(p.as_str())
                    .filter(|r| r.len() == 10)
                    .unwrap_or(d),
                Some(p) => match d.strip_prefix(p.as_str()) {
                    Some(rest) => rest,
                    None => return false,
                },
                None => d,
            };
            plan.check(nsn).0
        })
    }

    /// A number after its country code: (valid, possible).
    fn check_international(&self, d: &str) -> (bool, bool) {
        for cc_len in 1..=3 {
            if d.len() <= cc_len + 3 {
                break;
            }
            let Ok(code) = d[..cc_len].parse::<u16>() else {
                continue;
            };
            let Some(metas) = DATABASE.by_code(&code) else {
                continue;
            };
            let nsn = &d[cc_len..];
            let held: Vec<&Plan> = self.plans.iter().filter(|p| p.code == code).collect();
            if !held.is_empty() {
                // Each plan's patterns run once.
                return held.iter().fold((false, false), |(v, p), plan| {
                    let (pv, pp) = plan.check_whole(nsn);
                    (v || pv, p || pp)
                });
            }
            let len = nsn.len() as u16;
            let possible = metas.iter().any(|m| {
                let d = m.descriptors();
                [
                    d.general(),
                    d.fixed_line().unwrap_or(d.general()),
                    d.mobile().unwrap_or(d.general()),
                ]
                .iter()
                .any(|desc| desc.possible_length().contains(&len))
            });
            return (false, possible);
        }
        (false, false)
    }
}

impl Plan {
    fn new(meta: &Metadata) -> Result<Plan, String> {
        let compile = |src: &str| {
            RegexBuilder::new(&format!("^(?:{src})$"))
                .ignore_whitespace(true)
                .build()
                .map_err(|e| e.to_string())
        };
        let d = meta.descriptors();
        let mut types = Vec::new();
        // The general description often lists no lengths of its own: take every type's too.
        let mut lengths = d.general().possible_length().to_vec();
        let mut local_lengths = Vec::new();
        for desc in [
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.uan(),
            d.pager(),
        ]
        .into_iter()
        .flatten()
        {
            types.push(compile(desc.national_number().as_str())?);
            lengths.extend_from_slice(desc.possible_length());
            local_lengths.extend_from_slice(desc.possible_local_length());
        }
        lengths.sort_unstable();
        lengths.dedup();
        local_lengths.sort_unstable();
        local_lengths.dedup();
        Ok(Plan {
            code: meta.country_code(),
            national_prefix: meta.national_prefix().map(str::to_owned),
            lengths,
            local_lengths,
            general: compile(d.general().national_number().as_str())?,
            types,
        })
    }

    /// (valid, possible) for a national significant number, or a local one as dialled at home.
    fn check(&self, nsn: &str) -> (bool, bool) {
        let (valid, possible) = self.check_whole(nsn);
        (
            valid,
            possible || self.local_lengths.contains(&(nsn.len() as u16)),
        )
    }

    /// (valid, possible) for a whole national significant number (after a country code).
    fn check_whole(&self, nsn: &str) -> (bool, bool) {
        let possible = self.lengths.contains(&(nsn.len() as u16));
        let valid =
            possible && self.general.is_match(nsn) && self.types.iter().any(|t| t.is_match(nsn));
        (valid, possible)
    }
}

/// A phone number: see the module header.
pub fn phone(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    // Part of a longer token: `INV-2024-000123`, `v1.2.3-4567890`, `ab/1234567`. Not after a
    // label's colon: `tel:+14155552671` (every `tel:` link on a page), `Phone:555 0100`.
    let label =
        c.before() == Some(b':') && (m.first() == Some(&b'+') || c.preceded_by_any(&WORD_INDEX));
    if !label
        && matches!(c.before(), Some(b'-' | b'/' | b'_' | b'.' | b'#' | b':'))
        && c.start >= 2
        && c.text[c.start - 2].is_ascii_alphanumeric()
    {
        return None;
    }
    if matches!(c.after(), Some(b'-' | b'/' | b'_'))
        && c.text.get(c.end + 1).is_some_and(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    // The hour of a timestamp (`2008-10-06 03:10`, `06.10.2008 03:10`): a colon and a digit
    // right after the digits.
    if c.after() == Some(b':') && c.text.get(c.end + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let main = main_part(m);
    let d: String = digits(main).iter().map(|x| char::from(b'0' + x)).collect();
    if !(7..=17).contains(&d.len()) {
        return None;
    }
    let g = groups(main);
    let named = || c.preceded_by_any(&WORD_INDEX) || followed_by_extension(c) || labelled_after(c);
    let plus = main.first() == Some(&b'+');
    let exit_code = if plus {
        Some(0)
    } else if d.starts_with("00") {
        Some(2)
    } else if d.starts_with("011") {
        Some(3)
    } else {
        None
    };
    if let Some(skip) = exit_code {
        // `+44 (0)20 …`: the bracketed trunk zero is not part of the number.
        let rest = strip_bracketed_trunk(main, &d[skip..]);
        let (valid, possible) = c.phones.check_international(&rest);
        // `00 44 …`, `0044 20 …`, `001-242-…`: an exit code written as a group of its own, or
        // with the country code run on, says as much as `+`.
        let own_group = skip > 0
            && main.len() > skip
            && main[..skip].iter().all(u8::is_ascii_digit)
            && (exit_code_run_on(main, skip, &g)
                || (!main[skip].is_ascii_digit() && skip + 1 < main.len()));
        if valid || (possible && (plus || own_group || named())) {
            return Some((0, m.len()));
        }
        // `0088-228294`, `011-34 32 72`: an area code that starts like an exit code.
        if plus {
            return None;
        }
    }
    if not_a_phone_shape(main, &g) {
        return None;
    }
    let bare = main.iter().all(u8::is_ascii_digit);
    let (valid, possible) = c.phones.valid_national(&d);
    // A last group of one digit is a check digit (ISBN, reference numbers), not a subscriber;
    // three or more groups of four is how card and account numbers are written.
    let check_digit_tail = g.len() >= 3 && g.last() == Some(&1);
    let card_grouping = g.len() >= 3 && g.iter().filter(|n| **n == 4).count() >= 3;
    // 123-45-6789 is how US social security numbers are written, 12-3456789 US employer ids
    // (EIN; a phone number written so mostly starts with its trunk zero: 06-1234567).
    let ssn_grouping = g == [3, 2, 4];
    let ein_grouping = g == [2, 7] && main.len() == 10 && main[2] == b'-' && !d.starts_with('0');
    // Two groups ending in four (`9123 4567`, `555 1234`): how Singapore, Hong Kong and Danish
    // numbers are written, and as often two years, a part number or a range.
    let short_pair = g.len() == 2 && g[1] == 4;
    // Bare digits and those shapes need a phone word; a written-out number valid in a hint
    // region stands alone.
    let needs_word =
        bare || check_digit_tail || card_grouping || ssn_grouping || ein_grouping || short_pair;
    // A bare number led by one zero (a trunk prefix or an Italian area code, never an exit
    // code) stands alone whatever `phone_standalone` says: order numbers, Unix times and counts
    // are not written with a leading zero.
    let zero_led = d.starts_with('0') && !d.starts_with("00");
    // Valid as written implies valid: most bare numbers that are neither skip the second pass.
    let standalone = || {
        (c.phones.standalone || zero_led)
            && bare
            && valid
            && (9..=12).contains(&d.len())
            && c.phones.valid_as_written(&d)
            && !names_an_id(c)
    };
    // A number only possible in a hint region (Faker's and people's invented area codes) is
    // taken when a phone word names it, or when it is written as only phone numbers are.
    let written = || !needs_word && written_as_phone(m, main, &g) && !names_an_id(c);
    let ok = (valid && !needs_word) || (possible && (named() || written())) || standalone();
    ok.then_some((0, m.len()))
}

/// How far back the clause before a bare number is read for an id word (bytes).
const ID_WINDOW: usize = 40;

/// Whether the clause a bare number stands in names it as something else before it: an id word
/// ("Order", "Rechnungsnummer", "commande"), or a number sign (`#`, `no.`, `Nr.`, `n°`).
fn names_an_id(c: &Candidate) -> bool {
    let from = c.start.saturating_sub(ID_WINDOW);
    let mut clause = &c.text[from..c.start];
    // The clause starts after the last line break, `;`, `!` or `?`, or after a full stop that
    // ends a word of five letters or more and starts a new sentence (`no.`, `Ref.` and `Nr.` are
    // abbreviations, and so is a long word whose stop a number follows: `Rechnungsnr. 123`).
    if let Some(cut) = clause
        .iter()
        .rposition(|b| matches!(b, b'\n' | b';' | b'!' | b'?'))
    {
        clause = &clause[cut + 1..];
    }
    if let Some(cut) = (1..clause.len()).rev().find(|&i| {
        clause[i - 1] == b'.'
            && clause[i] == b' '
            && clause.get(i + 1).is_some_and(|b| !b.is_ascii_digit())
            && clause[..i - 1]
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_alphabetic())
                .count()
                >= 5
    }) {
        clause = &clause[cut..];
    }
    if clause.contains(&b'#') {
        return true;
    }
    // Words: ASCII letters lowercased, other bytes of UTF-8 letters kept as they are.
    let mut buf = [0u8; ID_WINDOW];
    let mut at = 0;
    for word in clause.split(|b| !(b.is_ascii_alphabetic() || *b >= 0x80)) {
        let end = at + word.len();
        let next = clause.get(end).copied();
        at = end + 1;
        if word.is_empty() {
            continue;
        }
        let lower = &mut buf[..word.len()];
        for (l, b) in lower.iter_mut().zip(word) {
            *l = b.to_ascii_lowercase();
        }
        let lower = &*lower;
        // `no.`, `Nr.`, `núm.`, `n°`, `nº`: a number sign (the Spanish "no" without its stop
        // is a negation).
        let sign = matches!(lower, b"n\xc2\xb0" | b"n\xc2\xba")
            || (matches!(lower, b"no" | b"nr" | b"num" | b"n\xc3\xbam") && next == Some(b'.'));
        if sign || ID_WORDS.iter().any(|w| names_id(lower, w.as_bytes())) {
            return true;
        }
    }
    false
}

/// Whether `word` (lowercase) is the id word `w`, its plural, or a compound of it that ends in
/// a word for "number" or "code" (`bestellnummer`, `kundennr`, `klantnummer`).
fn names_id(word: &[u8], w: &[u8]) -> bool {
    let Some(rest) = word.strip_prefix(w) else {
        return false;
    };
    rest.is_empty()
        || rest == b"s"
        || rest == b"es"
        || [
            &b"nummer"[..],
            b"nummern",
            b"nr",
            b"number",
            b"numbers",
            b"code",
            b"id",
            b"zeichen",
        ]
        .iter()
        .any(|end| rest.ends_with(end))
}

/// The text after the number past at most four of `separators`, and how many were passed.
fn after_number<'t>(c: &Candidate<'t>, separators: &[u8]) -> (&'t [u8], usize) {
    let rest = c.text.get(c.end..).unwrap_or_default();
    let skip = rest
        .iter()
        .take(4)
        .take_while(|b| separators.contains(b))
        .count();
    (&rest[skip..], skip)
}

/// Whether an extension word follows the number within a few bytes (`, extension 12`).
fn followed_by_extension(c: &Candidate) -> bool {
    let (rest, _) = after_number(c, b" ,;(-");
    WORDS_AFTER.iter().any(|w| {
        rest.len() >= w.len()
            && rest[..w.len()].eq_ignore_ascii_case(w.as_bytes())
            && rest.get(w.len()).is_none_or(|b| !b.is_ascii_alphabetic())
    })
}

/// Whether a label ends the phrase right after the number, as signatures and contact blocks
/// write it: `0396475800 (office)`, `2025550143 - Mobile`, `0531719590 Fax,` — the label, then
/// the end of the text, a line, a bracket or a punctuation mark; not a word ("home loans").
fn labelled_after(c: &Candidate) -> bool {
    let (rest, skip) = after_number(c, b" ([-\t");
    if skip == 0 {
        return false;
    }
    let word = rest
        .iter()
        .take_while(|b| b.is_ascii_alphabetic() || **b >= 0x80)
        .count();
    if word == 0 || word > 16 {
        return false;
    }
    let mut lower = [0u8; 16];
    for (l, b) in lower.iter_mut().zip(&rest[..word]) {
        *l = b.to_ascii_lowercase();
    }
    let ends_phrase = rest.get(word).is_none_or(|b| {
        matches!(
            b,
            b'\n' | b'\r' | b')' | b']' | b',' | b'.' | b';' | b':' | b'|' | b'/'
        )
    });
    ends_phrase && LABELS_AFTER.iter().any(|l| l.as_bytes() == &lower[..word])
}

#[cfg(test)]
mod tests;
