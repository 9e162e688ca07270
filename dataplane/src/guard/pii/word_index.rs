//! Context words grouped by their first byte, so the window before a value is read once and
//! each word start compared only with the words that begin with its byte — not searched once per
//! word, which a list of a few hundred words (the telephony words) makes costly.

/// Whether `word` starts at `at` in `window` as a whole word: no letter or digit before it, no
/// letter after it.
pub fn whole_word_at(window: &[u8], at: usize, word: &[u8]) -> bool {
    window[at..].starts_with(word)
        && (at == 0 || !window[at - 1].is_ascii_alphanumeric())
        && window
            .get(at + word.len())
            .is_none_or(|b| !b.is_ascii_alphabetic())
}

/// Context words (lowercase) grouped by their first byte.
pub struct Words {
    by_first: [Vec<&'static [u8]>; 256],
}

impl Words {
    pub fn new(words: &[&'static str]) -> Words {
        let mut by_first: [Vec<&'static [u8]>; 256] = std::array::from_fn(|_| Vec::new());
        for word in words {
            if let Some(&first) = word.as_bytes().first() {
                by_first[usize::from(first)].push(word.as_bytes());
            }
        }
        Words { by_first }
    }

    /// Whether one of the words stands as a whole word in `window` (already lowercased).
    pub fn in_window(&self, window: &[u8]) -> bool {
        (0..window.len()).any(|at| {
            (at == 0 || !window[at - 1].is_ascii_alphanumeric())
                && self.by_first[usize::from(window[at])]
                    .iter()
                    .any(|word| whole_word_at(window, at, word))
        })
    }
}
