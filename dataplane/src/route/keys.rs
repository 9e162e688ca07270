//! Duplicate object keys, at any depth, in a request body simd-json has already validated.
//!
//! Why: the guardrails read the parsed body and the provider parses the bytes Warden forwards.
//! With `{"role":"user","content":"hi","content":"<secret>"}` the two can disagree on which
//! `content` counts (one parser keeps the first, another the last) and the guarded value is not
//! the one the model sees. So a body with a repeated key in any object is refused. Keys compare
//! after unescaping (`"con\u0074ent"` is `content`), as every JSON parser reads them.
//!
//! One pass over the bytes, an explicit stack (no recursion), key ranges in one reused buffer;
//! allocation only for a key that carries an escape.

use std::ops::Range;

/// Nesting past this is refused as well (simd-json accepts deeper bodies than any request
/// needs, and the walk keeps one frame per level).
pub const MAX_DEPTH: usize = 128;

/// Why a body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This key (unescaped, at most 64 bytes of it) appears twice in one object.
    Duplicate(String),
    TooDeep,
}

/// A key of an object still open: where its unescaped bytes are.
#[derive(Clone)]
enum Key {
    Raw(Range<usize>),
    Unescaped(Range<usize>),
}

/// Walks bodies; keeps its buffers between calls.
#[derive(Default)]
pub struct KeyCheck {
    keys: Vec<Key>,
    /// Per open container: where its keys start in `keys` (arrays: `None`).
    open: Vec<Option<usize>>,
    unescaped: Vec<u8>,
}

impl KeyCheck {
    /// The first duplicate key in `body` (valid JSON; any other bytes give some answer, never
    /// a panic), if any.
    pub fn check(&mut self, body: &[u8]) -> Result<(), Refusal> {
        self.keys.clear();
        self.open.clear();
        self.unescaped.clear();
        let mut i = 0;
        // The next string is a key (just after `{` or a `,` inside an object).
        let mut expect_key = false;
        while i < body.len() {
            match body[i] {
                b'{' => {
                    if self.open.len() >= MAX_DEPTH {
                        return Err(Refusal::TooDeep);
                    }
                    self.open.push(Some(self.keys.len()));
                    expect_key = true;
                    i += 1;
                }
                b'[' => {
                    if self.open.len() >= MAX_DEPTH {
                        return Err(Refusal::TooDeep);
                    }
                    self.open.push(None);
                    expect_key = false;
                    i += 1;
                }
                b'}' | b']' => {
                    if let Some(Some(from)) = self.open.pop() {
                        self.close(body, from)?;
                    }
                    i += 1;
                }
                b',' => {
                    expect_key = matches!(self.open.last(), Some(Some(_)));
                    i += 1;
                }
                b'"' => {
                    let end = string_end(body, i);
                    if expect_key {
                        // An unterminated string (bytes that are not JSON, from a provider) runs
                        // to the end; a lone quote there is an empty key.
                        let raw = i + 1..(end - 1).max(i + 1);
                        let key = if body[raw.clone()].contains(&b'\\') {
                            let from = self.unescaped.len();
                            unescape(&body[raw], &mut self.unescaped);
                            Key::Unescaped(from..self.unescaped.len())
                        } else {
                            Key::Raw(raw)
                        };
                        self.keys.push(key);
                        expect_key = false;
                    }
                    i = end;
                }
                _ => i += 1,
            }
        }
        Ok(())
    }

    /// An object ends: its keys are `keys[from..]`.
    fn close(&mut self, body: &[u8], from: usize) -> Result<(), Refusal> {
        let bytes = |k: &Key| match k {
            Key::Raw(r) => &body[r.clone()],
            Key::Unescaped(r) => &self.unescaped[r.clone()],
        };
        let keys = &self.keys[from..];
        let dup = if keys.len() <= 16 {
            // Objects in requests are small: comparing pairs beats sorting.
            keys.iter()
                .enumerate()
                .find(|(n, k)| keys[n + 1..].iter().any(|o| bytes(o) == bytes(k)))
                .map(|(_, k)| k)
        } else {
            let mut sorted: Vec<&Key> = keys.iter().collect();
            sorted.sort_unstable_by(|a, b| bytes(a).cmp(bytes(b)));
            sorted
                .windows(2)
                .find(|w| bytes(w[0]) == bytes(w[1]))
                .map(|w| w[0])
        };
        if let Some(k) = dup {
            let name = bytes(k);
            return Err(Refusal::Duplicate(
                String::from_utf8_lossy(&name[..name.len().min(64)]).into_owned(),
            ));
        }
        self.keys.truncate(from);
        Ok(())
    }
}

/// Just past the string that starts at `i` (a `"`), in valid JSON. Jumps from quote or
/// backslash to the next (prompts are mostly string bytes).
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(at) = b
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        i += at;
        if b[i] == b'"' {
            return i + 1;
        }
        i += 2;
    }
    b.len()
}

/// Append the unescaped bytes of a valid JSON string's contents.
fn unescape(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 >= s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let c = s[i + 1];
        i += 2;
        let simple = match c {
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            other => Some(other),
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let mut unit = hex4(s, i);
        i += 4;
        if (0xD800..0xDC00).contains(&unit) && s.get(i..i + 2) == Some(b"\\u") {
            let low = hex4(s, i + 2);
            if (0xDC00..0xE000).contains(&low) {
                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                i += 6;
            }
        }
        let ch = char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

fn hex4(s: &[u8], i: usize) -> u32 {
    s.get(i..i + 4)
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .unwrap_or(0xFFFD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str) -> Result<(), Refusal> {
        KeyCheck::default().check(body.as_bytes())
    }

    #[test]
    fn bytes_that_are_not_json_never_panic() {
        // Found by fuzzing (api_surface): provider bytes reach the check through the response
        // guard before anything says they are JSON.
        for body in [r#"{""#, r#"{"a":1,""#, r#"{"a":"\"#, r#"{""#, r#"""#] {
            let _ = check(body);
        }
    }

    fn dup(name: &str) -> Result<(), Refusal> {
        Err(Refusal::Duplicate(name.into()))
    }

    #[test]
    fn repeated_keys_are_found_at_every_depth_and_in_every_spelling() {
        let cases = [
            (
                r#"{"messages":[{"role":"user","content":"hi","content":"x"}]}"#,
                dup("content"),
            ),
            (
                r#"{"messages":[{"role":"user","con\u0074ent":"x","content":"hi"}]}"#,
                dup("content"),
            ),
            (r#"{"a":{"b":{"c":1,"c":2}}}"#, dup("c")),
            (
                r#"{"tools":[{"function":{"name":"a","name":"b"}}]}"#,
                dup("name"),
            ),
            (r#"{"\ud83d\ude00":1,"😀":2}"#, dup("😀")),
            (r#"{"a\"b":1,"a\u0022b":2}"#, dup("a\"b")),
        ];
        for (body, want) in cases {
            assert_eq!(check(body), want, "{body}");
        }
    }

    #[test]
    fn the_same_key_in_different_objects_or_as_a_value_is_fine() {
        for body in [
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#,
            r#"{"a":{"x":1},"b":{"x":1},"x":"x"}"#,
            r#"{"content":["content","content"],"k":{"content":{"content":1}}}"#,
            r#"{"s":"a \" , { \"content\": 1 }","content":2}"#,
            r#"[{"a":1},{"a":1}]"#,
            r#"{}"#,
        ] {
            assert_eq!(check(body), Ok(()), "{body}");
        }
    }

    #[test]
    fn large_objects_and_deep_nesting() {
        let mut big = String::from("{");
        for n in 0..100 {
            big.push_str(&format!("\"k{n}\":{n},"));
        }
        big.push_str("\"k42\":0}");
        assert_eq!(check(&big), dup("k42"));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(check(&deep), Err(Refusal::TooDeep));
        let fine = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(check(&fine), Ok(()));
    }
}
