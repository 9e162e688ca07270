//! Views of a text with its escapes decoded: `%XX` (`jane%40example.com`, as in a URL's query),
//! JSON's `\uXXXX` inside text that is itself JSON (a tool's arguments), and HTML character
//! references (`jane&#64;example.com`, as web pages write addresses). Each view comes with the
//! offset in the text of each of its bytes (and its end), as the folded view does (`views.rs`).

use super::{fold, Fold};

/// `text` with every `%XX` escape decoded, and for each decoded byte (and the end) its offset in
/// `text`; `None` when there is no escape (nearly always).
pub fn percent_decoded(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let hex = |b: u8| (b as char).to_digit(16);
    decoded(text, b'%', |i| {
        let h = text.get(i + 1..i + 3)?;
        Some((Decoded::Byte((hex(h[0])? * 16 + hex(h[1])?) as u8), 3))
    })
}

/// `text` with its JSON escapes decoded — `\u0040` and other `\uXXXX` (surrogate pairs
/// joined), `\"`, `\\`, `\/` — and for each decoded byte (and the end) its offset in `text`;
/// `None` when it holds no `\uXXXX` (nearly always). Such text is JSON inside a string — a tool's
/// arguments or result, a document — or was written that way on purpose: the provider's model
/// reads `jane\u0040example.com` as the address it is, so the detectors must too. Other escapes
/// (`\n`, a lone surrogate) stay as written.
pub fn json_unescaped(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let unit = |i: usize| {
        let h = text.get(i..i + 6)?;
        if h[0] != b'\\' || h[1] != b'u' {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(&h[2..]).ok()?, 16).ok()
    };
    // The first `\uXXXX` makes the view; after it, the other escapes are decoded too.
    let first = memchr::memchr_iter(b'\\', text).find(|&i| unit(i).is_some())?;
    decoded_from(text, first, b'\\', |i| {
        let (c, len) = match text.get(i + 1)? {
            b'u' => match unit(i)? {
                hi @ 0xD800..=0xDBFF => match unit(i + 6)? {
                    lo @ 0xDC00..=0xDFFF => (0x1_0000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12),
                    _ => return None,
                },
                code => (code, 6),
            },
            c @ (b'"' | b'\\' | b'/') => (u32::from(*c), 2),
            _ => return None,
        };
        Some((Decoded::Char(char::from_u32(c)?), len))
    })
}

/// `text` with its HTML character references decoded — numeric (`&#64;`, `&#x40;`) and the
/// named ones a value is written with (`&commat;`, `&period;`, `&nbsp;`, `&amp;`, …), each
/// character then read as [`fold`] reads it — and for each decoded byte (and the end) its offset
/// in `text`; `None` when it holds no such reference (nearly always). Web pages write addresses
/// that way to keep them from harvesters (`jane&#64;example.com`), and retrieved pages and HTML
/// documents reach the model as they are: it reads the address.
pub fn html_unescaped(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    decoded(text, b'&', |i| {
        reference(text, i).map(|(c, len)| (Decoded::Char(c), len))
    })
}

/// `text` with addresses written out in bracketed words — `jane [at] example [dot] com`,
/// `jane(at)example(dot)com`, any case, in `[]`, `()` or `{}`, the spaces around them dropped —
/// read as `@` and `.`, and for each byte (and the end) its offset in `text`; `None` when no
/// `at` is bracketed so (nearly always). Web pages and signatures write addresses so against
/// harvesters, and the model reads them as the addresses they are. Bare ` at ` and ` dot ` are
/// prose and stay as written; the e-mail validator still wants a domain with a dot.
pub fn words_unescaped(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    memchr::memchr3_iter(b'[', b'(', b'{', text)
        .find(|&i| bracketed(text, i).is_some_and(|(c, _)| c == b'@'))?;
    let mut out = Vec::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len() + 1);
    let mut i = 0;
    while i < text.len() {
        let spaces = |from: usize| {
            text[from..]
                .iter()
                .take(4)
                .take_while(|b| **b == b' ')
                .count()
        };
        let before = if text[i] == b' ' { spaces(i) } else { 0 };
        let word = matches!(text.get(i + before), Some(b'[' | b'(' | b'{'))
            .then(|| bracketed(text, i + before))
            .flatten();
        match word {
            Some((c, len)) => {
                out.push(c);
                at.push(i + before);
                i += before + len;
                i += spaces(i);
            }
            None => {
                out.push(text[i]);
                at.push(i);
                i += 1;
            }
        }
    }
    at.push(text.len());
    Some((out, at))
}

/// At `i`, an opening bracket, `at` or `dot` in any case (spaces inside allowed) and the
/// matching close: `@` or `.`, and the length.
fn bracketed(text: &[u8], i: usize) -> Option<(u8, usize)> {
    let close = match text.get(i)? {
        b'[' => b']',
        b'(' => b')',
        b'{' => b'}',
        _ => return None,
    };
    let skip = |mut j: usize| {
        while j < i + 8 && text.get(j) == Some(&b' ') {
            j += 1;
        }
        j
    };
    let j = skip(i + 1);
    let word = |w: &[u8]| {
        text.get(j..j + w.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(w))
    };
    let (c, n) = if word(b"at") {
        (b'@', 2)
    } else if word(b"dot") {
        (b'.', 3)
    } else {
        return None;
    };
    let end = skip(j + n);
    (text.get(end) == Some(&close)).then_some((c, end + 1 - i))
}

/// What an escape stands for.
enum Decoded {
    /// A byte (`%XX`).
    Byte(u8),
    /// A character, read as [`fold`] reads it.
    Char(char),
}

/// `text` with each escape `escape(i)` decodes at an `intro` byte decoded (with its length),
/// everything else as written, and each byte's offset in `text`; `None` when there is none.
fn decoded(
    text: &[u8],
    intro: u8,
    escape: impl Fn(usize) -> Option<(Decoded, usize)>,
) -> Option<(Vec<u8>, Vec<usize>)> {
    let first = memchr::memchr_iter(intro, text).find(|&i| escape(i).is_some())?;
    decoded_from(text, first, intro, escape)
}

/// [`decoded`], the first escape at `first`.
fn decoded_from(
    text: &[u8],
    first: usize,
    intro: u8,
    escape: impl Fn(usize) -> Option<(Decoded, usize)>,
) -> Option<(Vec<u8>, Vec<usize>)> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len() + 1);
    out.extend_from_slice(&text[..first]);
    at.extend(0..first);
    let mut i = first;
    while i < text.len() {
        let Some((d, len)) = (text[i] == intro).then(|| escape(i)).flatten() else {
            out.push(text[i]);
            at.push(i);
            i += 1;
            continue;
        };
        match d {
            Decoded::Byte(b) => {
                out.push(b);
                at.push(i);
            }
            Decoded::Char(c) => match fold(c) {
                Fold::Ascii(b) => {
                    out.push(b);
                    at.push(i);
                }
                Fold::Drop => {}
                Fold::Keep => {
                    let mut buf = [0u8; 4];
                    let bytes = c.encode_utf8(&mut buf).as_bytes();
                    out.extend_from_slice(bytes);
                    at.extend(std::iter::repeat_n(i, bytes.len()));
                }
            },
        }
        i += len;
    }
    at.push(text.len());
    Some((out, at))
}

/// The character an HTML reference at `i` (an `&`) stands for, and its length; `None` unless it
/// is one, closed by `;`.
fn reference(text: &[u8], i: usize) -> Option<(char, usize)> {
    const NAMED: [(&str, char); 13] = [
        ("commat", '@'),
        ("period", '.'),
        ("nbsp", ' '),
        ("amp", '&'),
        ("plus", '+'),
        ("hyphen", '-'),
        ("dash", '-'),
        ("lowbar", '_'),
        ("lpar", '('),
        ("rpar", ')'),
        ("colon", ':'),
        ("sol", '/'),
        ("num", '#'),
    ];
    let rest = text.get(i + 1..)?;
    let end = rest.iter().take(10).position(|b| *b == b';')?;
    let body = std::str::from_utf8(&rest[..end]).ok()?;
    let c = match body.strip_prefix('#') {
        Some(n) => {
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                None if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok()?,
                _ => return None,
            };
            char::from_u32(code)?
        }
        None => NAMED.iter().find(|(name, _)| *name == body)?.1,
    };
    Some((c, end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view of a text: its bytes and each one's offset, or none.
    type View = Option<(Vec<u8>, Vec<usize>)>;

    /// `decode`'s view of `text`, as text, and its offsets; a panic when there is none.
    fn view(decode: fn(&[u8]) -> View, text: &str) -> (String, Vec<usize>) {
        let (out, at) = decode(text.as_bytes()).unwrap_or_else(|| panic!("a view of {text}"));
        (String::from_utf8_lossy(&out).into_owned(), at)
    }

    #[test]
    fn addresses_in_bracketed_words_are_read_and_mapped_to_where_they_were_written() {
        let text = "Mail jane [at] example [dot] com or bob(AT)example(Dot)org, { at } x; meet me at noon.";
        let (out, at) = view(words_unescaped, text);
        assert_eq!(
            out,
            "Mail jane@example.com or bob@example.org,@x; meet me at noon."
        );
        assert_eq!(
            at[out.find('@').unwrap_or(0)],
            text.find("[at]").unwrap_or(usize::MAX)
        );
        assert_eq!(
            at[out.find("com").unwrap_or(0)],
            text.find("com").unwrap_or(0)
        );
        assert_eq!(at.len(), out.len() + 1);
        // Prose, a bracketed dot alone, and brackets around other words: no view.
        for prose in [
            "look at this dot",
            "the (dot) product",
            "see [attached] (a) {data}",
        ] {
            assert!(words_unescaped(prose.as_bytes()).is_none(), "{prose}");
        }
    }

    #[test]
    fn json_escapes_are_decoded_and_mapped_to_where_they_were_written() {
        let text = r#"mail jane\u0040example.com, \"q\" \\u0040 \ud83d\ude00 \ud800 x\/y \n"#;
        let (out, at) = view(json_unescaped, text);
        assert_eq!(
            out,
            "mail jane@example.com, \"q\" \\u0040 \u{1f600} \\ud800 x/y \\n"
        );
        let at_of = |needle: &str| at[out.find(needle).unwrap_or(0)];
        assert_eq!(at_of("@"), text.find("\\u0040").unwrap_or(usize::MAX));
        assert_eq!(at_of("example"), text.find("example").unwrap_or(0));
        assert_eq!(at.len(), out.len() + 1);
        assert_eq!(at[out.len()], text.len());
        // Nothing to decode without a `\uXXXX`: no view.
        assert!(json_unescaped(br#"C:\path\n "quoted" \u00"#).is_none());
    }

    #[test]
    fn html_references_are_decoded_folded_and_mapped_to_where_they_were_written() {
        let text = "jane&#64;example&period;com, 4111&#x20;1111&nbsp;1111&#8203;1111 &amp c&#;d &#12345678;";
        let (out, at) = view(html_unescaped, text);
        assert_eq!(
            out,
            "jane@example.com, 4111 1111 11111111 &amp c&#;d &#12345678;"
        );
        assert_eq!(
            at[out.find('@').unwrap_or(0)],
            text.find("&#64;").unwrap_or(usize::MAX)
        );
        assert_eq!(at.len(), out.len() + 1);
        assert_eq!(at[out.len()], text.len());
        assert!(html_unescaped(b"Tom & Jerry; R&D &c").is_none());
    }
}
