//! OpenAI's embeddings dialect to Gemini's and back: a `/v1/embeddings` request becomes one
//! `:batchEmbedContents` call (one `EmbedContentRequest` per input, in order, `dimensions` as
//! `outputDimensionality`), and its `embeddings[].values` become OpenAI's `data[].embedding`,
//! as float arrays or, when the client asked for `encoding_format: "base64"` (the `openai` SDKs
//! do by default), as base64 of little-endian float32 — the bytes OpenAI itself sends.
//!
//! Gemini's embedding answers carry no token count; the usage is then estimated from the input
//! text (four bytes a token, as for every answer without usage) and the audit record says so.
//! Token-id inputs have no text to send Gemini and are refused here with a 400.

use std::io::Write;

use base64::Engine as _;
use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::json::{Arr, Obj};
use super::Usage;
use crate::error::{Error, Kind, Result};
use crate::http::respond::json_string;

/// What the translated answer needs from the request.
#[derive(Clone)]
pub struct EmbedMeta {
    /// The alias the client asked for; the answer reports it as `model`.
    pub model: Box<str>,
    /// `encoding_format: "base64"`.
    pub base64: bool,
    /// Input tokens estimated from the input's bytes, used when Gemini reports none.
    pub estimated_tokens: u64,
}

/// The texts of an embeddings request's `input`, in order: a string or an array of strings.
/// Token ids (an array of integers, or of arrays of them) are `None`: there is no text.
pub fn input_texts<'v>(value: &'v Value<'v>) -> Result<Option<Vec<&'v str>>> {
    let invalid = |what: &'static str| Err(Error::new(Kind::InvalidRequest, what));
    match value.get("input") {
        None => invalid("missing required parameter: 'input'"),
        Some(i) if i.as_str().is_some() => Ok(i.as_str().map(|s| vec![s])),
        Some(i) => {
            let Some(items) = i.as_array() else {
                return invalid("'input' must be a string or an array");
            };
            if items.is_empty() {
                return invalid("'input' must not be empty");
            }
            if items.iter().all(|x| x.as_str().is_some()) {
                return Ok(Some(items.iter().filter_map(|x| x.as_str()).collect()));
            }
            let ids = |v: &Value<'_>| v.as_u64().is_some();
            let tokens = items.iter().all(ids)
                || items.iter().all(|x| {
                    x.as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(ids))
                });
            if tokens {
                Ok(None)
            } else {
                invalid("'input' must be a string, an array of strings, or token ids")
            }
        }
    }
}

/// The `:batchEmbedContents` body for an OpenAI embeddings request to `upstream_model`, and its
/// estimated input tokens.
pub fn gemini_request(value: &Value<'_>, upstream_model: &str, out: &mut Vec<u8>) -> Result<u64> {
    let texts = input_texts(value)?.ok_or_else(|| {
        Error::new(
            Kind::InvalidRequest,
            "this embedding model takes text input only, not token ids",
        )
    })?;
    let dimensions = match value.get("dimensions") {
        None => None,
        Some(d) => Some(d.as_u64().filter(|d| *d > 0).ok_or_else(|| {
            Error::new(
                Kind::InvalidRequest,
                "'dimensions' must be a positive integer",
            )
        })?),
    };
    let model = format!("models/{upstream_model}");
    let mut body = Obj::new(out);
    let mut requests = Arr::new(body.key("requests"));
    let mut bytes = 0u64;
    for text in texts {
        bytes += text.len() as u64;
        let mut r = Obj::new(requests.item());
        r.str("model", &model);
        {
            let content = r.key("content");
            content.extend_from_slice(b"{\"parts\":[{\"text\":");
            json_string(content, text);
            content.extend_from_slice(b"}]}");
        }
        if let Some(d) = dimensions {
            r.num("outputDimensionality", d);
        }
        r.end();
    }
    requests.end();
    body.end();
    Ok(bytes.div_ceil(4))
}

/// A `batchEmbedContents` answer as an OpenAI embeddings list. Returns the usage and whether
/// it is an estimate (Gemini reported no token count).
pub fn gemini_response(
    body: &mut [u8],
    meta: &EmbedMeta,
    out: &mut Vec<u8>,
) -> Result<(Usage, bool)> {
    let bad = || {
        Error::new(
            Kind::UpstreamProtocol,
            "the provider's embeddings answer is malformed",
        )
    };
    // Float answers carry Gemini's numbers as written: their bytes are copied out before the
    // parse (which validates them, and works in place), rather than parsed and printed again.
    let raw = if meta.base64 {
        None
    } else {
        values_as_written(body)
    };
    let v = simd_json::to_borrowed_value(body).map_err(|_| bad())?;
    let embeddings = v
        .get("embeddings")
        .and_then(|e| e.as_array())
        .ok_or_else(bad)?;
    let reported = v
        .get("usageMetadata")
        .and_then(|u| u.get("promptTokenCount"))
        .and_then(|n| n.as_u64());
    let usage = Usage {
        prompt: reported.unwrap_or(meta.estimated_tokens),
        ..Usage::default()
    };
    let mut list = Obj::new(out);
    list.str("object", "list");
    {
        let mut data = Arr::new(list.key("data"));
        let mut packed = Vec::new();
        for (index, e) in embeddings.iter().enumerate() {
            let values = e.get("values").and_then(|x| x.as_array()).ok_or_else(bad)?;
            let mut item = Obj::new(data.item());
            item.str("object", "embedding");
            item.num("index", index as u64);
            if meta.base64 {
                packed.clear();
                for x in values {
                    let f = x.cast_f64().ok_or_else(bad)? as f32;
                    packed.extend_from_slice(&f.to_le_bytes());
                }
                item.str(
                    "embedding",
                    &base64::engine::general_purpose::STANDARD.encode(&packed),
                );
            } else if let Some((bytes, spans)) = raw.as_ref().filter(|(_, spans)| {
                spans.len() == embeddings.len() && values.iter().all(|x| x.cast_f64().is_some())
            }) {
                item.raw("embedding", &bytes[spans[index].clone()]);
            } else {
                let arr = item.key("embedding");
                arr.push(b'[');
                for (i, x) in values.iter().enumerate() {
                    if i > 0 {
                        arr.push(b',');
                    }
                    let f = x.cast_f64().ok_or_else(bad)?;
                    // Debug prints the shortest form that reads back as the same f64, always as a
                    // float (`1.0`, `1e-10`).
                    let _ = write!(arr, "{f:?}");
                }
                arr.push(b']');
            }
            item.end();
        }
        data.end();
    }
    list.str("model", &meta.model);
    {
        let u = list.key("usage");
        u.extend_from_slice(b"{\"prompt_tokens\":");
        u.extend_from_slice(usage.prompt.to_string().as_bytes());
        u.extend_from_slice(b",\"total_tokens\":");
        u.extend_from_slice(usage.prompt.to_string().as_bytes());
        u.push(b'}');
    }
    list.end();
    Ok((usage, reported.is_none()))
}

/// The bytes of each `embeddings[i].values` array of a Gemini answer, as written, with their
/// spans in the returned buffer; `None` when they cannot be located exactly (a key escaped or
/// repeated), and the answer is then printed from its parsed numbers.
fn values_as_written(body: &[u8]) -> Option<(Vec<u8>, Vec<std::ops::Range<usize>>)> {
    use crate::route::{array_elements, unique_member};
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let list = unique_member(body, start, b"embeddings")?;
    let mut bytes = Vec::with_capacity(list.len());
    let mut spans = Vec::new();
    for e in array_elements(body, list.start)? {
        let values = unique_member(body, e.start, b"values")?;
        let at = bytes.len();
        bytes.extend_from_slice(body.get(values.clone())?);
        spans.push(at..bytes.len());
    }
    Some((bytes, spans))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &str) -> Vec<u8> {
        json.as_bytes().to_vec()
    }

    #[test]
    fn inputs_are_strings_or_token_ids_and_nothing_else() {
        let texts = |json: &str| {
            let mut b = parsed(json);
            let v = simd_json::to_borrowed_value(&mut b).unwrap();
            input_texts(&v).map(|t| t.map(|t| t.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
        };
        assert_eq!(
            texts(r#"{"input":"a"}"#).unwrap(),
            Some(vec!["a".to_string()])
        );
        assert_eq!(
            texts(r#"{"input":["a","b"]}"#).unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(texts(r#"{"input":[1,2,3]}"#).unwrap(), None);
        assert_eq!(texts(r#"{"input":[[1,2],[3]]}"#).unwrap(), None);
        for bad in [
            r#"{}"#,
            r#"{"input":[]}"#,
            r#"{"input":["a",1]}"#,
            r#"{"input":{"a":1}}"#,
            r#"{"input":[[]]}"#,
        ] {
            assert_eq!(texts(bad).unwrap_err().kind, Kind::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn a_request_becomes_one_batch_call_and_its_answer_an_openai_list() {
        let mut b = parsed(
            r#"{"model":"gemini-embedding-001","input":["hello \"world\"","bye"],"dimensions":3}"#,
        );
        let v = simd_json::to_borrowed_value(&mut b).unwrap();
        let mut out = Vec::new();
        let tokens = gemini_request(&v, "gemini-embedding-001", &mut out).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "hello \"world\""}]}, "outputDimensionality": 3},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "bye"}]}, "outputDimensionality": 3}
            ]})
        );
        assert_eq!(tokens, 4); // 16 bytes of text, four to a token
        let answer = r#"{"embeddings":[{"values":[0.5,-0.25,1.0]},{"values":[0.125,0,2]}]}"#;
        for base64 in [false, true] {
            let meta = EmbedMeta {
                model: "gemini-embedding-001".into(),
                base64,
                estimated_tokens: tokens,
            };
            let mut out = Vec::new();
            let (usage, estimated) = gemini_response(&mut parsed(answer), &meta, &mut out).unwrap();
            assert!(estimated);
            assert_eq!(usage.prompt, 4);
            let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(got["object"], "list");
            assert_eq!(got["model"], "gemini-embedding-001");
            assert_eq!(
                got["usage"],
                serde_json::json!({"prompt_tokens": 4, "total_tokens": 4})
            );
            assert_eq!(got["data"][1]["index"], 1);
            let first = &got["data"][0]["embedding"];
            if base64 {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(first.as_str().unwrap())
                    .unwrap();
                let floats: Vec<f32> = bytes
                    .chunks(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                assert_eq!(floats, vec![0.5, -0.25, 1.0]);
            } else {
                assert_eq!(first, &serde_json::json!([0.5, -0.25, 1.0]));
            }
        }
        let reported = r#"{"embeddings":[{"values":[1]}],"usageMetadata":{"promptTokenCount":7}}"#;
        let meta = EmbedMeta {
            model: "m".into(),
            base64: false,
            estimated_tokens: 1,
        };
        let (usage, estimated) =
            gemini_response(&mut parsed(reported), &meta, &mut Vec::new()).unwrap();
        assert_eq!((usage.prompt, estimated), (7, false));
        let token_ids = r#"{"input":[1,2]}"#;
        let mut b = parsed(token_ids);
        let v = simd_json::to_borrowed_value(&mut b).unwrap();
        assert_eq!(
            gemini_request(&v, "m", &mut Vec::new()).unwrap_err().kind,
            Kind::InvalidRequest
        );
    }
}
