//! What confirms a PII candidate once Hyperscan has found its shape: checksums, issuer and
//! numbering-plan tables, and context words. Runs only on candidates (a handful per text), never
//! over the whole text.
//!
//! A validator sees the candidate and the text around it ([`Candidate`]), so a weak shape (nine
//! bare digits) can be confirmed by what precedes it ("SSN", "BSN", "Aadhaar") while a strong one
//! (a codice fiscale with its check letter) stands on its own.

pub mod bank;
pub mod cards;
pub mod ids;
pub mod phone;
pub mod word_index;

pub use phone::Plans;
use word_index::{whole_word_at, Words};

/// How far before a value a context word may end (bytes): "social security number is " fits.
pub const WINDOW: usize = 48;

/// A candidate match and where it sits.
pub struct Candidate<'a> {
    pub text: &'a [u8],
    pub start: usize,
    pub end: usize,
    /// This shard's numbering plans (phone validation).
    pub phones: &'a Plans,
}

impl<'a> Candidate<'a> {
    pub fn bytes(&self) -> &'a [u8] {
        &self.text[self.start..self.end]
    }

    /// The byte just before the candidate.
    pub fn before(&self) -> Option<u8> {
        self.start.checked_sub(1).map(|i| self.text[i])
    }

    /// The byte just after the candidate.
    pub fn after(&self) -> Option<u8> {
        self.text.get(self.end).copied()
    }

    /// Whether one of `words` (lowercase) stands as a whole word within [`WINDOW`] bytes before
    /// the value, case-insensitively.
    pub fn preceded_by(&self, words: &[&str]) -> bool {
        self.window(|window| {
            words.iter().any(|word| {
                let word = word.as_bytes();
                let Some(&first) = word.first() else {
                    return false;
                };
                memchr::memchr_iter(first, window).any(|at| whole_word_at(window, at, word))
            })
        })
    }

    /// [`Candidate::preceded_by`] for a long list: the window is read once, each word start
    /// compared only with the words that begin with its byte.
    pub fn preceded_by_any(&self, words: &Words) -> bool {
        self.window(|window| words.in_window(window))
    }

    /// The [`WINDOW`] bytes before the value, ASCII lowercased.
    fn window(&self, f: impl FnOnce(&[u8]) -> bool) -> bool {
        let from = self.start.saturating_sub(WINDOW);
        let mut window = [0u8; WINDOW];
        let len = self.start - from;
        for (w, b) in window.iter_mut().zip(&self.text[from..self.start]) {
            *w = b.to_ascii_lowercase();
        }
        f(&window[..len])
    }
}

/// The decimal digits of `m`, as numbers.
pub fn digits(m: &[u8]) -> Vec<u8> {
    m.iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

/// The number the digits spell (up to 19 of them).
pub fn number(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |a, &x| a * 10 + u64::from(x))
}

/// The Luhn (mod 10) check over all the digits, the last being the check digit.
pub fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            match (i % 2 == 1, x * 2) {
                (true, y) if y > 9 => y - 9,
                (true, y) => y,
                _ => x,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether the separators between digit groups are all the same (or absent): `123-45-6789` and
/// `123456789`, not `123-45 6789`.
pub fn one_separator(m: &[u8]) -> bool {
    let mut seps = m.iter().filter(|b| !b.is_ascii_alphanumeric());
    match seps.next() {
        None => true,
        Some(first) => seps.all(|b| b == first),
    }
}
