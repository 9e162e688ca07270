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

/// The error for a body that does not parse; a UTF-8 byte-order mark in front (PowerShell's
/// `Out-File`, Notepad) is named, not reported as a syntax error at character 0.
pub fn invalid_json(body: &[u8], e: simd_json::Error) -> Error {
    if body.starts_with(b"\xEF\xBB\xBF") {
        return Error::new(
            Kind::InvalidJson,
            "request body starts with a UTF-8 byte-order mark: send the JSON without it",
        );
    }
    Error::new(Kind::InvalidJson, "request body is not valid JSON").with_detail(e.to_string())
}

/// Validate any JSON request body that names its model in a top-level `model` field (OpenAI
/// chat, Anthropic Messages) and read the routing fields.
pub fn parse_model_body<'s>(
    body: &[u8],
    scratch: &'s mut Vec<u8>,
) -> Result<(ChatFields, BorrowedValue<'s>)> {
    scratch.clear();
    scratch.extend_from_slice(body);
    let value = simd_json::to_borrowed_value(scratch).map_err(|e| invalid_json(body, e))?;
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
        .with_name(&name)),
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

/// Where the top-level key `key` is written (its name, without the quotes) in a body
/// [`parse_model_body`] accepted.
pub fn top_level_key(body: &[u8], key: &str) -> Option<Range<usize>> {
    scan_top_level(body)
        .pairs
        .into_iter()
        .find(|(k, _)| &body[k.clone()] == key.as_bytes())
        .map(|(k, _)| k)
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
mod tests;
