//! Routing: read what the gateway needs from a chat request body (model, stream, usage option)
//! and map the model alias to a provider and upstream model.
//!
//! The body is validated with simd-json (on a scratch copy, since simd-json parses in place);
//! the `model` value is located by a top-level scan of the original bytes so it can be replaced
//! without re-serialising the body. Ambiguity is refused: a `model` key that appears twice, or
//! only in escaped form, would let the gateway and the provider disagree on the model.

pub mod keys;

use std::ops::Range;

use simd_json::prelude::{ValueAsScalar, ValueObjectAccess};
use simd_json::BorrowedValue;

use crate::error::{Error, Kind, Result};

/// What the gateway reads from an OpenAI chat request.
#[derive(Debug, PartialEq, Eq)]
pub struct ChatFields {
    pub model: String,
    /// Where the `model` value (quotes included) sits in the original body.
    pub model_span: Range<usize>,
    pub stream: bool,
    pub include_usage: bool,
    /// Where the client's top-level `stream_options` value sits, if it sent one: Warden
    /// rewrites it so that every stream reports its usage (metering cannot be switched off).
    pub stream_options_span: Option<Range<usize>>,
}

/// Validate an OpenAI chat request and read its routing fields.
pub fn inspect_chat(body: &[u8], scratch: &mut Vec<u8>) -> Result<ChatFields> {
    parse_chat(body, scratch).map(|(fields, _)| fields)
}

/// [`inspect_chat`], also returning the parsed body for translation (it borrows `scratch`).
pub fn parse_chat<'s>(
    body: &[u8],
    scratch: &'s mut Vec<u8>,
) -> Result<(ChatFields, BorrowedValue<'s>)> {
    let (fields, value) = parse_model_body(body, scratch)?;
    match value.get("messages") {
        Some(BorrowedValue::Array(m)) if !m.is_empty() => Ok((fields, value)),
        _ => Err(Error::new(
            Kind::InvalidRequest,
            "'messages' must be a non-empty array",
        )),
    }
}

/// Validate any JSON request body that names its model in a top-level `model` field (OpenAI
/// chat, Anthropic Messages) and read the routing fields.
pub fn parse_model_body<'s>(
    body: &[u8],
    scratch: &'s mut Vec<u8>,
) -> Result<(ChatFields, BorrowedValue<'s>)> {
    scratch.clear();
    scratch.extend_from_slice(body);
    let value = simd_json::to_borrowed_value(scratch).map_err(|e| {
        Error::new(Kind::InvalidJson, "request body is not valid JSON").with_detail(e.to_string())
    })?;
    let BorrowedValue::Object(obj) = &value else {
        return Err(Error::new(
            Kind::InvalidRequest,
            "request body must be a JSON object",
        ));
    };
    let model = match obj.get("model") {
        Some(BorrowedValue::String(s)) => s.to_string(),
        Some(_) => return Err(Error::new(Kind::InvalidRequest, "'model' must be a string")),
        None => {
            return Err(Error::new(
                Kind::InvalidRequest,
                "missing required parameter: 'model'",
            ))
        }
    };
    let stream = match obj.get("stream") {
        None | Some(BorrowedValue::Static(simd_json::StaticNode::Null)) => false,
        Some(v) => v.as_bool().ok_or(Error::new(
            Kind::InvalidRequest,
            "'stream' must be a boolean",
        ))?,
    };
    let include_usage = obj
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    // The guardrails read the parsed body, the provider the bytes: any key repeated at any
    // depth, escaped or not, could make them read different values.
    refuse_duplicate_keys(body)?;
    let scan = scan_top_level(body);
    let spans: Vec<Range<usize>> = scan.values_of(body, b"model").collect();
    let model_span = match spans.as_slice() {
        [span] if body.get(span.start + 1..span.end - 1) == Some(model.as_bytes()) => span.clone(),
        _ => {
            return Err(Error::new(
                Kind::InvalidRequest,
                "'model' must appear once, as a plain JSON string",
            ))
        }
    };
    let stream_options_span = scan.values_of(body, b"stream_options").next();
    let fields = ChatFields {
        model,
        model_span,
        stream,
        include_usage,
        stream_options_span,
    };
    Ok((fields, value))
}

/// Refuse a valid JSON body in which any object repeats a key (see [`keys`]).
pub fn refuse_duplicate_keys(body: &[u8]) -> Result<()> {
    match keys::KeyCheck::default().check(body) {
        Ok(()) => Ok(()),
        Err(keys::Refusal::Duplicate(name)) => Err(Error::new(
            Kind::InvalidRequest,
            "duplicate key in the request body: every key may appear once per object",
        )
        .with_detail(format!("{name:?}"))),
        Err(keys::Refusal::TooDeep) => Err(Error::new(
            Kind::InvalidRequest,
            "the request body nests deeper than 128 levels",
        )),
    }
}

/// The body around the `model` value: what goes before and after the replacement, so callers
/// can splice the upstream name into whatever buffer they write.
pub fn split_at_model<'a>(body: &'a [u8], span: &Range<usize>) -> (&'a [u8], &'a [u8]) {
    (&body[..span.start], &body[span.end..])
}

struct Scan {
    /// Every top-level pair: the key's raw bytes (between the quotes) and the value's span.
    pairs: Vec<(Range<usize>, Range<usize>)>,
}

impl Scan {
    fn values_of<'a>(
        &'a self,
        body: &'a [u8],
        key: &'a [u8],
    ) -> impl Iterator<Item = Range<usize>> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| &body[k.clone()] == key)
            .map(|(_, v)| v.clone())
    }
}

/// Walk the top level of a JSON object already validated by simd-json.
fn scan_top_level(body: &[u8]) -> Scan {
    let mut scan = Scan {
        pairs: Vec::with_capacity(16),
    };
    let mut i = skip_ws(body, 0);
    if body.get(i) != Some(&b'{') {
        return scan;
    }
    i += 1;
    loop {
        i = skip_ws(body, i);
        if body.get(i) != Some(&b'"') {
            return scan;
        }
        let key_end = string_end(body, i);
        let key = i + 1..key_end.saturating_sub(1).max(i + 1);
        i = skip_ws(body, key_end) + 1; // past ':'
        let value_start = skip_ws(body, i);
        let value_end = value_end(body, value_start);
        scan.pairs.push((key, value_start..value_end));
        i = skip_ws(body, value_end);
        match body.get(i) {
            Some(b',') => i += 1,
            _ => return scan,
        }
    }
}

/// The value of `key` in the JSON object that starts at `at` (in bytes simd-json accepted),
/// when the key appears there exactly once and no key of that object is written with an escape
/// (`"con\u0074ent"` is `content` to a client's parser, not to a byte comparison): a caller
/// that splices the value then changes exactly what every parser reads. `None` otherwise.
pub fn unique_member(b: &[u8], at: usize, key: &[u8]) -> Option<Range<usize>> {
    if b.get(at) != Some(&b'{') {
        return None;
    }
    let mut found = None;
    let mut i = at + 1;
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return found;
        }
        let key_end = string_end(b, i);
        let name = b.get(i + 1..key_end.saturating_sub(1))?;
        if name.contains(&b'\\') {
            return None;
        }
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start);
        if name == key {
            if found.is_some() {
                return None;
            }
            found = Some(start..end);
        }
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            _ => return found,
        }
    }
}

/// The spans of the elements of the JSON array that starts at `at` (in bytes simd-json
/// accepted); `None` when no array starts there.
pub fn array_elements(b: &[u8], at: usize) -> Option<Vec<Range<usize>>> {
    let mut i = first_element(b, at)?;
    let mut out = Vec::new();
    loop {
        let end = value_end(b, i);
        out.push(i..end);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            _ => return Some(out),
        }
    }
}

/// Where the first element of the JSON array that starts at `at` begins.
pub fn first_element(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let i = skip_ws(b, at + 1);
    (b.get(i) != Some(&b']')).then_some(i)
}

/// The client's `stream_options` value (an object or `null`) rewritten to ask for usage:
/// `{"include_usage":true` and every other field the client set, as it set it. `None` for a
/// value of another type (the provider refuses it as it would without Warden).
pub fn stream_options_with_usage(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len() + 24);
    out.extend_from_slice(b"{\"include_usage\":true");
    if value == b"null" {
        out.push(b'}');
        return Some(out);
    }
    if value.first() != Some(&b'{') {
        return None;
    }
    for (k, v) in scan_top_level(value).pairs {
        if &value[k.clone()] == b"include_usage" {
            continue;
        }
        out.push(b',');
        out.extend_from_slice(&value[k.start - 1..k.end + 1]);
        out.push(b':');
        out.extend_from_slice(&value[v]);
    }
    out.push(b'}');
    Some(out)
}

/// Byte ranges that remove the top-level fields named in `keys` (each with one neighbouring
/// comma) from a body [`parse_model_body`] accepted. Sorted and disjoint.
pub fn removals(body: &[u8], keys: &[&str]) -> Vec<Range<usize>> {
    let scan = scan_top_level(body);
    let removed: Vec<bool> = scan
        .pairs
        .iter()
        .map(|(k, _)| keys.iter().any(|key| key.as_bytes() == &body[k.clone()]))
        .collect();
    let mut out: Vec<Range<usize>> = Vec::new();
    for (i, (k, v)) in scan.pairs.iter().enumerate() {
        if !removed[i] {
            continue;
        }
        let kept_after = removed[i + 1..].iter().any(|r| !r);
        let kept_before = (0..i).rev().find(|j| !removed[*j]);
        let range = if kept_after {
            // The pair and the comma after it: up to the next key's opening quote.
            k.start - 1..scan.pairs[i + 1].0.start - 1
        } else if let Some(j) = kept_before {
            // Nothing kept after: take the comma before, from the last kept value on.
            scan.pairs[j].1.end..v.end
        } else {
            k.start - 1..v.end
        };
        match out.last_mut() {
            Some(last) if last.end >= range.start => {
                last.start = last.start.min(range.start);
                last.end = last.end.max(range.end);
            }
            _ => out.push(range),
        }
    }
    out
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `i` at an opening quote; returns the index just past the closing quote.
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Where the JSON value starting at `i` ends (for bodies already known to be valid JSON).
pub fn json_value_end(b: &[u8], i: usize) -> usize {
    value_end(b, i)
}

fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while let Some(&c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            j
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(body: &str) -> Result<ChatFields> {
        inspect_chat(body.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn a_member_is_found_only_where_it_is_unambiguous() {
        let b = br#"{"a": 1, "delta" : {"content":"hi \"there\"","x":[1,{"content":2}]}}"#;
        let delta = unique_member(b, 0, b"delta").unwrap_or_default();
        let content = unique_member(b, delta.start, b"content").unwrap_or_default();
        assert_eq!(&b[content], br#""hi \"there\"""#);
        assert_eq!(unique_member(b, 0, b"missing"), None);
        let twice = br#"{"content":"a","content":"b"}"#;
        assert_eq!(unique_member(twice, 0, b"content"), None);
        let escaped = br#"{"content":"a","con\u0074ent":"b"}"#;
        assert_eq!(unique_member(escaped, 0, b"content"), None);
        let arr = br#"[ {"k":1}, 2]"#;
        assert_eq!(first_element(arr, 0), Some(2));
        assert_eq!(array_elements(arr, 0), Some(vec![2..9, 11..12]));
        assert_eq!(first_element(b"[ ]", 0), None);
    }

    #[test]
    fn finds_fields_and_rewrites_only_the_model() -> Result<()> {
        let body = r#"{"messages":[{"role":"user","content":"say \"model\": {x}"}], "model" : "gpt-4o", "stream":true,
            "stream_options":{"include_usage":true},"temperature":0.2}"#;
        let f = inspect(body)?;
        assert_eq!(
            (f.model.as_str(), f.stream, f.include_usage),
            ("gpt-4o", true, true)
        );
        let (before, after) = split_at_model(body.as_bytes(), &f.model_span);
        let rebuilt = [before, b"\"gpt-4o-2024-08-06\"", after].concat();
        assert_eq!(
            String::from_utf8_lossy(&rebuilt),
            body.replace("\"gpt-4o\"", "\"gpt-4o-2024-08-06\"")
        );
        Ok(())
    }

    #[test]
    fn removals_keep_the_json_valid() -> Result<()> {
        let cases = [
            (r#"{"a":1,"logprobs":true,"b":2}"#, r#"{"a":1,"b":2}"#),
            (r#"{"logprobs":true,"a":1}"#, r#"{"a":1}"#),
            (r#"{"a":1, "logprobs" : true }"#, r#"{"a":1 }"#),
            (r#"{"a":1,"logprobs":true,"top_logprobs":3}"#, r#"{"a":1}"#),
            (
                r#"{"logprobs":true,"top_logprobs":3,"a":{"x":[1,"}"]}}"#,
                r#"{"a":{"x":[1,"}"]}}"#,
            ),
            (r#"{"logprobs":true}"#, r#"{}"#),
        ];
        for (body, want) in cases {
            let cuts = removals(body.as_bytes(), &["logprobs", "top_logprobs"]);
            let mut out = Vec::new();
            let mut at = 0;
            for r in cuts {
                out.extend_from_slice(&body.as_bytes()[at..r.start]);
                at = r.end;
            }
            out.extend_from_slice(&body.as_bytes()[at..]);
            assert_eq!(String::from_utf8_lossy(&out), want, "{body}");
        }
        Ok(())
    }

    #[test]
    fn stream_options_always_ask_for_usage_and_keep_the_rest() {
        let cases = [
            (r#"null"#, Some(r#"{"include_usage":true}"#)),
            (r#"{}"#, Some(r#"{"include_usage":true}"#)),
            (
                r#"{"include_usage":false}"#,
                Some(r#"{"include_usage":true}"#),
            ),
            (
                r#"{ "x" : [1, {"y":2}] , "include_usage" : false }"#,
                Some(r#"{"include_usage":true,"x":[1, {"y":2}]}"#),
            ),
            (r#""yes""#, None),
        ];
        for (value, want) in cases {
            let got = stream_options_with_usage(value.as_bytes());
            assert_eq!(
                got.as_deref().map(String::from_utf8_lossy).as_deref(),
                want,
                "{value}"
            );
        }
    }

    #[test]
    fn refuses_ambiguous_or_invalid_bodies() {
        let cases = [
            (
                r#"{"model":"a","model":"b","messages":[1]}"#,
                Kind::InvalidRequest,
            ),
            (r#"{"mod\u0065l":"a","messages":[1]}"#, Kind::InvalidRequest),
            (
                r#"{"model":"a","mod\u0065l":"b","messages":[1]}"#,
                Kind::InvalidRequest,
            ),
            (
                r#"{"model":"g\u0070t","messages":[1]}"#,
                Kind::InvalidRequest,
            ),
            (r#"{"model":"a","messages":[]}"#, Kind::InvalidRequest),
            (r#"{"model":7,"messages":[1]}"#, Kind::InvalidRequest),
            (
                r#"{"model":"a","messages":[1],"stream":"yes"}"#,
                Kind::InvalidRequest,
            ),
            (r#"["model"]"#, Kind::InvalidRequest),
            (r#"{"model":"a","messages":[1]"#, Kind::InvalidJson),
            ("", Kind::InvalidJson),
        ];
        for (body, kind) in cases {
            assert_eq!(inspect(body).err().map(|e| e.kind), Some(kind), "{body}");
        }
    }
}
