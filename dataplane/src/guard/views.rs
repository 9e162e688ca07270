//! Other ways the same value is written, as views of a text for the engine to scan again: escapes
//! decoded (`%XX`, JSON's `\uXXXX`, HTML references: `views/escapes.rs`), and Unicode folded to
//! the ASCII the detectors read —
//! fullwidth forms (`４１１１ １１１１ …`, `bob＠example.com`, as CJK input methods type them), the
//! decimal digits of other scripts (Arabic-Indic `٠١٥٣…`, Devanagari, Thai, …), dashes and minus
//! signs (`555–123–4567` pasted from a word processor), no-break and other spaces, and the
//! invisible characters that split a value without showing (zero-width space and joiners, word
//! joiner, soft hyphen, byte-order mark). The provider reads all of those as the value; the
//! Hyperscan patterns and validators read ASCII.
//!
//! Each view comes with, for each of its bytes (and its end), the offset in the text it came
//! from, so a finding in the view is a span of the text. Most texts have nothing to decode or
//! fold and get no view: pure ASCII text is told apart by one pass over its bytes.

mod escapes;
pub use escapes::{html_unescaped, json_unescaped, percent_decoded, words_unescaped};

/// What a character is to the detectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fold {
    /// The character as it is (ASCII, and every character below that is not folded).
    Keep,
    /// Read as this ASCII byte.
    Ascii(u8),
    /// Not there at all (it splits nothing the reader sees).
    Drop,
}

/// The first code point of each script's decimal digits (Unicode category Nd, ten in a row),
/// besides ASCII and the fullwidth forms.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, // Arabic-Indic
    0x06F0, // Extended Arabic-Indic (Persian, Urdu)
    0x07C0, // NKo
    0x0966, // Devanagari
    0x09E6, // Bengali
    0x0A66, // Gurmukhi
    0x0AE6, // Gujarati
    0x0B66, // Oriya
    0x0BE6, // Tamil
    0x0C66, // Telugu
    0x0CE6, // Kannada
    0x0D66, // Malayalam
    0x0DE6, // Sinhala
    0x0E50, // Thai
    0x0ED0, // Lao
    0x0F20, // Tibetan
    0x1040, // Myanmar
    0x17E0, // Khmer
    0x1810, // Mongolian
    0x1946, // Limbu
    0x19D0, // New Tai Lue
    0x1B50, // Balinese
    0xA8D0, // Saurashtra
    0xA900, // Kayah Li
    0xA9D0, // Javanese
    0xAA50, // Cham
    0xABF0, // Meetei Mayek
];

/// How the detectors read `c`.
pub fn fold(c: char) -> Fold {
    let u = c as u32;
    if u < 0x80 {
        return Fold::Keep;
    }
    match u {
        // Fullwidth ASCII (`！` … `～`) and the ideographic space.
        0xFF01..=0xFF5E => Fold::Ascii((u - 0xFF01 + 0x21) as u8),
        0x3000 => Fold::Ascii(b' '),
        // No-break, en/em/thin/narrow and other spaces.
        0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F => Fold::Ascii(b' '),
        // Hyphens, figure dash, en and em dashes, the minus sign, the small and fullwidth
        // hyphen-minus come as `-`.
        0x2010..=0x2015 | 0x2212 | 0xFE63 => Fold::Ascii(b'-'),
        // Zero-width space, non-joiner and joiner, word joiner, soft hyphen, byte-order mark.
        0x200B..=0x200D | 0x2060 | 0x00AD | 0xFEFF => Fold::Drop,
        // The mathematical digits are five sets of ten in a row.
        0x1D7CE..=0x1D7FF => Fold::Ascii(b'0' + ((u - 0x1D7CE) % 10) as u8),
        _ => DIGIT_ZEROS
            .iter()
            .find(|&&zero| (zero..zero + 10).contains(&u))
            .map_or(Fold::Keep, |zero| Fold::Ascii(b'0' + (u - zero) as u8)),
    }
}

/// `text` with every character [`fold`] changes folded, and for each byte of the result (and
/// the end) its offset in `text`; `None` when no fold could make a value (all ASCII text, and
/// most other: see [`first_telling_fold`]). Bytes that are not UTF-8 stay as they are.
pub fn folded(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    if text.is_ascii() {
        return None;
    }
    let mut next = Some(first_telling_fold(text)?);
    let mut out = Vec::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len() + 1);
    let mut copied = 0;
    while let Some((start, len, f)) = next {
        // The run before the fold as it is, then the fold.
        out.extend_from_slice(&text[copied..start]);
        at.extend(copied..start);
        if let Fold::Ascii(b) = f {
            out.push(b);
            at.push(start);
        }
        copied = start + len;
        next = next_fold(text, copied);
    }
    out.extend_from_slice(&text[copied..]);
    at.extend(copied..text.len());
    at.push(text.len());
    Some((out, at))
}

/// The first character that folds, when some fold could make or join a value: a character read
/// as a letter, a digit or `@` (fullwidth, other scripts' digits), a space or a dash between two
/// letters, digits or brackets (`4111\u{a0}1111`, `555–123`, `(0118)\u{a0}496`), or an invisible
/// character next to a letter, a digit or `@._-+` (`AKIA\u{200b}IOSF`, `123-\u{200b}45`). Prose that merely uses a dash, a no-break space before a colon,
/// fullwidth punctuation (CJK text) or a zero-width joiner between emoji gets no view: a second
/// scan costs as much as the first.
fn first_telling_fold(text: &[u8]) -> Option<(usize, usize, Fold)> {
    let first = next_fold(text, 0)?;
    // What a value is made of; what a space or a dash may join in one (`(0118) 496`).
    let value =
        |f: Fold| matches!(f, Fold::Ascii(b) if b.is_ascii_alphanumeric() || b"@._-+".contains(&b));
    let joined =
        |f: Fold| matches!(f, Fold::Ascii(b) if b.is_ascii_alphanumeric() || b"()".contains(&b));
    let mut next = Some(first);
    while let Some((i, len, f)) = next {
        let before = (i > 0).then(|| fold_before(text, i).0);
        let after = (i + len < text.len()).then(|| fold_at(text, i + len));
        let telling = match f {
            Fold::Ascii(b) if b.is_ascii_alphanumeric() || b == b'@' => true,
            // An invisible character next to any part of a value: `jane\u{200b}.doe`.
            Fold::Drop => before.is_some_and(value) || after.is_some_and(value),
            _ => before.is_some_and(joined) && after.is_some_and(joined),
        };
        if telling {
            return Some(first);
        }
        next = next_fold(text, i + len);
    }
    None
}

/// Whether a byte may start a character that folds (the lead bytes of the code points [`fold`]
/// changes); every other byte is skipped without decoding.
const fn may_fold(b: u8) -> bool {
    matches!(
        b,
        0xC2 | 0xD9 | 0xDB | 0xDF | 0xE0 | 0xE1 | 0xE2 | 0xE3 | 0xEA | 0xEF | 0xF0
    )
}

/// The next character at or after `from` that folds: (start, length, fold).
fn next_fold(text: &[u8], from: usize) -> Option<(usize, usize, Fold)> {
    let mut i = from;
    while i < text.len() {
        // One tight pass to the next byte that may start a fold.
        i += text[i..].iter().position(|&b| may_fold(b))?;
        let b = text[i];
        // Kana and CJK punctuation share U+3000's lead byte: look at the next byte first.
        if b == 0xE3 && text.get(i + 1) != Some(&0x80) {
            i += 1;
            continue;
        }
        if let (Some(c), len) = char_at(text, i) {
            let f = fold(c);
            if f != Fold::Keep {
                return Some((i, len, f));
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

/// How the character that ends just before `i` reads, ASCII as itself, and where it starts
/// (a byte that is no character reads as [`Fold::Keep`]).
pub fn fold_before(text: &[u8], i: usize) -> (Fold, usize) {
    let b = text[i - 1];
    if b < 0x80 {
        return (Fold::Ascii(b), i - 1);
    }
    let mut start = i - 1;
    while start > 0 && i - start < 4 && (0x80..0xC0).contains(&text[start]) {
        start -= 1;
    }
    match char_at(text, start) {
        (Some(c), len) if start + len == i => (fold(c), start),
        _ => (Fold::Keep, i - 1),
    }
}

/// How the character that starts at `i` reads, ASCII as itself.
pub fn fold_at(text: &[u8], i: usize) -> Fold {
    match char_at(text, i) {
        (Some(c), _) if c.is_ascii() => Fold::Ascii(c as u8),
        (Some(c), _) => fold(c),
        (None, _) => Fold::Keep,
    }
}

/// The character starting at `i` and its length in bytes; `None` (length 1) for a byte that
/// starts no valid UTF-8 sequence.
pub fn char_at(text: &[u8], i: usize) -> (Option<char>, usize) {
    let lead = text[i];
    let (len, bits) = match lead {
        0x00..=0x7F => return (Some(char::from(lead)), 1),
        0xC2..=0xDF => (2, u32::from(lead & 0x1F)),
        0xE0..=0xEF => (3, u32::from(lead & 0x0F)),
        0xF0..=0xF4 => (4, u32::from(lead & 0x07)),
        _ => return (None, 1),
    };
    let Some(tail) = text.get(i + 1..i + len) else {
        return (None, 1);
    };
    let mut code = bits;
    for &b in tail {
        if b & 0xC0 != 0x80 {
            return (None, 1);
        }
        code = (code << 6) | u32::from(b & 0x3F);
    }
    // Overlong forms and surrogates are not characters.
    let shortest = match len {
        2 => code >= 0x80,
        3 => code >= 0x800,
        _ => code >= 0x1_0000,
    };
    match char::from_u32(code).filter(|_| shortest) {
        Some(c) => (Some(c), len),
        None => (None, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> Option<(String, Vec<usize>)> {
        folded(text.as_bytes()).map(|(b, at)| (String::from_utf8_lossy(&b).into_owned(), at))
    }

    #[test]
    fn folds_what_the_provider_reads_as_ascii() {
        for (text, want) in [
            ("card ４１１１ １１１１", "card 4111 1111"),
            ("bob＠example．com", "bob@example.com"),
            ("tel ٠١٥٣٥٢٤٦٦٢", "tel 0153524662"),
            ("फ़ोन ०१२३", "फ़ोन 0123"),
            ("call 555–123—4567", "call 555-123-4567"),
            (
                "4111\u{200b}1111\u{00ad}1111\u{feff}1111",
                "4111111111111111",
            ),
            ("DE89\u{00a0}3704\u{202f}0044", "DE89 3704 0044"),
            ("𝟒𝟏𝟏𝟏 𝟙𝟚", "4111 12"),
        ] {
            assert_eq!(view(text).map(|v| v.0).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn maps_each_byte_back_to_where_it_came_from() {
        let text = "x ４\u{200b}2 é٣";
        let (view, at) = view(text).unwrap_or_else(|| panic!("no view"));
        assert_eq!(view, "x 42 é3");
        // `x`, ` `, `４` (3 bytes), the dropped space, `2`, ` `, `é` (2 bytes), `٣`, the end.
        assert_eq!(at, vec![0, 1, 2, 8, 9, 10, 11, 12, 14]);
        assert_eq!(at.len(), view.len() + 1);
    }

    #[test]
    fn leaves_text_with_nothing_to_fold_alone() {
        assert_eq!(view("plain ASCII 4111"), None);
        assert_eq!(view("Grüße aus Köln, 30 €"), None);
        assert_eq!(view("日本語のテキスト"), None);
        // Folds that join nothing: a dash in prose, French spacing, fullwidth punctuation, a
        // zero-width joiner between emoji.
        assert_eq!(view("Yes — and no – maybe"), None);
        assert_eq!(view("Merci\u{a0}: à bientôt\u{a0}!"), None);
        assert_eq!(view("東京（本社）：営業部、"), None);
        assert_eq!(view("family 👨\u{200d}👩\u{200d}👧 here"), None);
        // The same folds between digits or letters make a view.
        assert!(view("pages 3–5").is_some());
        assert!(view("1\u{a0}000 €").is_some());
        // Bytes that are not UTF-8 pass through: a stray byte, an overlong form, a surrogate,
        // a cut sequence.
        for bad in [&b"\xff"[..], b"\xc0\xaf", b"\xed\xa0\x80", b"\xef\xbc"] {
            let (c, len) = char_at(bad, 0);
            assert_eq!((c, len), (None, 1), "{bad:?}");
        }
        assert_eq!(char_at("４".as_bytes(), 0), (Some('４'), 3));
        let (out, at) = folded(b"\xff\xef\xbc\x94").unwrap_or_else(|| panic!("no view"));
        assert_eq!(out, b"\xff4");
        assert_eq!(at, vec![0, 1, 4]);
    }
}
