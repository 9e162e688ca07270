//! Routing: read what the gateway needs from a chat request body (model, stream, usage option)
//! and map the model alias to a provider and upstream model.
//!
//! The body is validated with simd-json (on a scratch copy, since simd-json parses in place);
//! the `model` value is located by a top-level scan of the original bytes so it can be replaced
//! without re-serialising the body. Ambiguity is refused: a `model` key that appears twice, or
//! only in escaped form, would let the gateway and the provider disagree on the model.

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
}

pub fn inspect_chat(body: &[u8], scratch: &mut Vec<u8>) -> Result<ChatFields> {
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
    match obj.get("messages") {
        Some(BorrowedValue::Array(m)) if !m.is_empty() => {}
        _ => {
            return Err(Error::new(
                Kind::InvalidRequest,
                "'messages' must be a non-empty array",
            ))
        }
    }
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
    // simd-json keeps duplicate keys side by side (and unescapes them), while providers' parsers
    // usually take the last one: refuse any duplicate, escaped or not.
    let mut names: Vec<&str> = obj.keys().map(|k| k.as_ref()).collect();
    names.sort_unstable();
    names.dedup();
    let scan = scan_top_level(body, b"model");
    if names.len() != obj.len() || scan.keys != obj.len() {
        return Err(Error::new(
            Kind::InvalidRequest,
            "duplicate keys in the request object",
        ));
    }
    let model_span = match scan.spans.as_slice() {
        [span] if body.get(span.start + 1..span.end - 1) == Some(model.as_bytes()) => span.clone(),
        _ => {
            return Err(Error::new(
                Kind::InvalidRequest,
                "'model' must appear once, as a plain JSON string",
            ))
        }
    };
    Ok(ChatFields {
        model,
        model_span,
        stream,
        include_usage,
    })
}

/// The body around the `model` value: what goes before and after the replacement, so callers
/// can splice the upstream name into whatever buffer they write.
pub fn split_at_model<'a>(body: &'a [u8], span: &Range<usize>) -> (&'a [u8], &'a [u8]) {
    (&body[..span.start], &body[span.end..])
}

struct Scan {
    /// Number of top-level keys.
    keys: usize,
    /// Value spans of top-level keys whose raw bytes equal the wanted key.
    spans: Vec<Range<usize>>,
}

/// Walk the top level of a JSON object already validated by simd-json.
fn scan_top_level(body: &[u8], key: &[u8]) -> Scan {
    let mut scan = Scan {
        keys: 0,
        spans: Vec::new(),
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
        let this_key = &body[i + 1..key_end.saturating_sub(1).max(i + 1)];
        i = skip_ws(body, key_end) + 1; // past ':'
        let value_start = skip_ws(body, i);
        let value_end = value_end(body, value_start);
        scan.keys += 1;
        if this_key == key {
            scan.spans.push(value_start..value_end);
        }
        i = skip_ws(body, value_end);
        match body.get(i) {
            Some(b',') => i += 1,
            _ => return scan,
        }
    }
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
