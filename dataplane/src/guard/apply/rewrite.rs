//! Placeholders in place of values in the outgoing JSON body, where the provider will read them.
//!
//! The guardrails find values in decoded strings; the body holds them as the client wrote them,
//! and JSON lets any character be written as a `\u` escape (`\u0034111 1111 …` is a card; Go
//! escapes `<`, `>` and `&`, Python everything outside ASCII). So each string of the body is
//! decoded with a map back to its raw bytes, values are searched in the decoded text, and the
//! raw span of each occurrence — escapes included — becomes the placeholder. Searching the raw
//! bytes instead (until 2026-12-06) replaced a look-alike inside an escape (`\u003[CARD_1]`:
//! invalid JSON) and missed an escaped copy of a value it had found plainly elsewhere, which
//! then went upstream as written. Runs only for requests with values to replace.

use std::cmp::Reverse;
use std::ops::Range;

use crate::error::{Error, Kind, Result};

/// `body` with every occurrence of each value, in any JSON string (keys included), replaced by
/// its placeholder; where values overlap, the longer wins. Fails closed when a value is in no
/// string at all, or is also a number: the request is refused rather than sent with it.
pub fn rewrite(body: &[u8], replacements: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut order: Vec<&(Vec<u8>, Vec<u8>)> = replacements
        .iter()
        .filter(|(value, _)| !value.is_empty())
        .collect();
    order.sort_by_key(|(value, _)| Reverse(value.len()));
    let finders: Vec<memchr::memmem::Finder<'_>> = order
        .iter()
        .map(|(value, _)| memchr::memmem::Finder::new(value))
        .collect();
    let mut found = vec![false; order.len()];
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    let mut text = Decoded::default();
    // (raw range, which value) of the occurrences in one string.
    let mut claims: Vec<(Range<usize>, usize)> = Vec::new();
    let mut gap_start = 0;
    for string in strings(body) {
        outside_strings(&body[gap_start..string.start - 1], &finders)?;
        gap_start = string.end + 1;
        claims.clear();
        text.decode(&body[string.clone()], string.start);
        for (which, finder) in finders.iter().enumerate() {
            for at in finder.find_iter(&text.bytes) {
                let raw = text.raw(at..at + finder.needle().len());
                if claims
                    .iter()
                    .all(|(c, _)| c.end <= raw.start || raw.end <= c.start)
                {
                    claims.push((raw, which));
                    found[which] = true;
                }
            }
        }
        claims.sort_by_key(|(raw, _)| raw.start);
        for (raw, which) in &claims {
            out.extend_from_slice(&body[copied..raw.start]);
            out.extend_from_slice(&order[*which].1);
            copied = raw.end;
        }
    }
    outside_strings(body.get(gap_start..).unwrap_or_default(), &finders)?;
    if found.contains(&false) {
        return Err(Error::new(
            Kind::GuardrailBlocked,
            "the request was blocked by a guardrail",
        )
        .with_detail("a value to redact is not in the request body as a string"));
    }
    out.extend_from_slice(&body[copied..]);
    Ok(out)
}

/// Refuses a value that also stands outside the strings — the digits of a JSON number
/// (`"card": 4111111111111111`, or `4.111111111111111e15`), which a placeholder cannot
/// replace — rather than replace its other copies and send that one.
fn outside_strings(gap: &[u8], finders: &[memchr::memmem::Finder<'_>]) -> Result<()> {
    let refused = || {
        Err(Error::new(
            Kind::GuardrailBlocked,
            "the request was blocked by a guardrail",
        )
        .with_detail("a value to redact is a JSON number in the request body, where no placeholder can stand"))
    };
    for finder in finders {
        let len = finder.needle().len();
        let digit = |i: Option<usize>| i.and_then(|i| gap.get(i)).is_some_and(u8::is_ascii_digit);
        let whole = |at: usize| !digit(at.checked_sub(1)) && !digit(Some(at + len));
        if finder.find_iter(gap).any(whole) {
            return refused();
        }
    }
    // Numbers with a fraction or an exponent, read as their whole value's digits (as the
    // guardrails read them: `extract::whole_digits`). Rare; most gaps hold no `.`, `e` or `E`.
    if memchr::memchr3(b'.', b'e', b'E', gap).is_none() {
        return Ok(());
    }
    let number = |c: &u8| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-');
    for token in gap.split(|c| !number(c)).filter(|t| t.len() > 1) {
        let digits = std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .and_then(crate::extract::whole_digits);
        if let Some(digits) = digits {
            if finders.iter().any(|f| f.needle() == digits.as_bytes()) {
                return refused();
            }
        }
    }
    Ok(())
}

/// The contents (between the quotes) of every string in a JSON text, in order.
fn strings(json: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + memchr::memchr(b'"', json.get(at..)?)? + 1;
        let mut i = start;
        loop {
            i += memchr::memchr2(b'"', b'\\', json.get(i..)?)?;
            if json[i] == b'\\' {
                // The escaped character; a `\u`'s hex digits hold no quote or backslash.
                i += 2;
            } else {
                at = i + 1;
                return Some(start..i);
            }
        }
    })
}

/// One string's decoded bytes, and where they came from in the body: runs written as they are
/// and escapes, each with its first decoded byte and its body offset.
#[derive(Default)]
struct Decoded {
    bytes: Vec<u8>,
    /// In order; the last one an empty run at the string's end.
    runs: Vec<Run>,
}

#[derive(Clone, Copy)]
struct Run {
    decoded: usize,
    raw: usize,
    /// Written as decoded (byte for byte), or one escape.
    literal: bool,
}

impl Decoded {
    fn decode(&mut self, raw: &[u8], offset: usize) {
        self.bytes.clear();
        self.runs.clear();
        let mut i = 0;
        while i < raw.len() {
            let run = Run {
                decoded: self.bytes.len(),
                raw: offset + i,
                literal: raw[i] != b'\\',
            };
            self.runs.push(run);
            if run.literal {
                let end = memchr::memchr(b'\\', &raw[i..]).map_or(raw.len(), |n| i + n);
                self.bytes.extend_from_slice(&raw[i..end]);
                i = end;
            } else {
                let (c, len) = escape(&raw[i..]);
                let mut utf8 = [0u8; 4];
                self.bytes
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                i += len;
            }
        }
        self.runs.push(Run {
            decoded: self.bytes.len(),
            raw: offset + raw.len(),
            literal: true,
        });
    }

    /// The body range of the decoded bytes `r`, escapes at its ends taken whole.
    fn raw(&self, r: Range<usize>) -> Range<usize> {
        self.at(r.start, false)..self.at(r.end, true)
    }

    /// The body offset of decoded byte `i`; inside an escape, its start (or, `after`, its end).
    fn at(&self, i: usize, after: bool) -> usize {
        let k = self
            .runs
            .partition_point(|r| r.decoded <= i)
            .saturating_sub(1);
        let run = self.runs[k];
        if run.literal || i == run.decoded {
            run.raw + (i - run.decoded)
        } else if after {
            self.runs.get(k + 1).map_or(run.raw, |next| next.raw)
        } else {
            run.raw
        }
    }
}

/// The character an escape at the start of `raw` stands for, and the escape's length. A lone
/// surrogate reads as U+FFFD (it cannot be part of a value the guardrails found).
fn escape(raw: &[u8]) -> (char, usize) {
    let simple = match raw.get(1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => {
            let Some(high) = hex4(raw.get(2..6)) else {
                return ('\u{fffd}', raw.len().min(2));
            };
            if (0xD800..0xDC00).contains(&high) && raw.get(6..8) == Some(b"\\u") {
                if let Some(low) = hex4(raw.get(8..12)).filter(|l| (0xDC00..0xE000).contains(l)) {
                    let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    return (char::from_u32(c).unwrap_or('\u{fffd}'), 12);
                }
            }
            return (char::from_u32(high).unwrap_or('\u{fffd}'), 6);
        }
        _ => '\u{fffd}',
    };
    (simple, raw.len().min(2))
}

fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(digits?).ok()?, 16).ok()
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
