//! How much of the end of a stream's text the response guard holds back: the trailing run that
//! could still grow into a value, a number whose label may follow, an unclosed placeholder, and
//! the last words while operator patterns may span them.

use super::MAX_HOLD;
use crate::guard::views::{fold_at, fold_before, Fold};

/// Operator patterns may span words ("Project Falcon"): while a project has response-side
/// custom patterns, this many trailing words stay held back too (within [`MAX_HOLD`]).
pub(super) const CUSTOM_HOLD_WORDS: usize = 3;

/// Where the last `words` whitespace-separated words (and the whitespace after them) start.
pub(super) fn last_words_start(text: &str, words: usize) -> usize {
    let b = text.as_bytes();
    let floor = b.len().saturating_sub(MAX_HOLD);
    let mut i = b.len();
    for _ in 0..words {
        while i > floor && b[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        while i > floor && !b[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
    }
    while i < b.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Where an unclosed placeholder (`[EMAIL_` …) at the end starts, else the end.
pub(super) fn partial_placeholder_start(text: &str) -> usize {
    let b = text.as_bytes();
    let from = b.len().saturating_sub(24);
    match b[from..].iter().rposition(|c| *c == b'[') {
        Some(i)
            if b[from + i + 1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_') =>
        {
            from + i
        }
        _ => b.len(),
    }
}

/// A character a value's run may hold as written: its own, a backslash, which starts a JSON
/// escape inside one (`jane\u0040example.com` in a tool call's arguments), and what an HTML
/// reference is made of (`jane&#64;example.com`).
fn value_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'@' | b'.'
                | b'_'
                | b'%'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b':'
                | b'\\'
                | b'&'
                | b'#'
                | b';'
        )
}

/// Where the trailing run that could still grow into (or be) a value starts.
pub(super) fn holdback_start(text: &str) -> usize {
    let b = text.as_bytes();
    let floor = b.len().saturating_sub(MAX_HOLD);
    let mut i = label_after_digits(b).unwrap_or(b.len());
    while i > floor {
        // Characters are read as the detectors read them (`views::fold`): fullwidth digits and
        // other scripts' digits are digits, a no-break space a space, a zero-width space nothing.
        let (c, start) = match fold_before(b, i) {
            (Fold::Drop, start) => {
                i = start;
                continue;
            }
            (Fold::Ascii(c), start) => (c, start),
            // A letter with a diacritic or a Cyrillic one may be part of an address.
            (Fold::Keep, start)
                if text
                    .get(start..i)
                    .and_then(|c| c.chars().next())
                    .is_some_and(crate::guard::detectors::address_letter) =>
            {
                i = start;
                continue;
            }
            (Fold::Keep, _) => break,
        };
        if value_char(c) {
            i = start;
            continue;
        }
        // A single space or parenthesis between digit groups keeps a number together
        // ("4111 1111", "+44 20", "(415) 555").
        let groups = |f: Fold, more: u8| matches!(f, Fold::Ascii(x) if x.is_ascii_digit() || x.is_ascii_uppercase() || x == more);
        let joins_digits = matches!(c, b' ' | b'(' | b')')
            && start > 0
            && groups(fold_before(b, start).0, b'+')
            && (i == b.len() || groups(fold_at(b, i), b'('));
        if joins_digits {
            i = start;
            continue;
        }
        break;
    }
    // Stay on a character boundary.
    while i < b.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The most letters of a word after a number that are held with it: the longest label or
/// extension word a phone number may be named by after it ("… (office)", "… ext. 12").
const LABEL_HOLD: usize = 16;

/// When `b` ends in digits, up to four separators (` `, `(`, `[`, `-`, tab) and perhaps the start
/// of a word, the end of those digits: the word may yet turn out to be a label that names the number
/// (`phone.rs`, `labelled_after`), so the number is held until the word ends.
fn label_after_digits(b: &[u8]) -> Option<usize> {
    let word = b
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic() || **c >= 0x80)
        .count();
    if word > LABEL_HOLD {
        return None;
    }
    let rest = &b[..b.len() - word];
    let seps = rest
        .iter()
        .rev()
        .take(4)
        .take_while(|c| matches!(c, b' ' | b'(' | b'[' | b'-' | b'\t'))
        .count();
    let at = rest.len() - seps;
    (seps > 0 && at > 0 && rest[at - 1].is_ascii_digit()).then_some(at)
}
