//! Embeddings in each provider's dialect: OpenAI's `POST /v1/embeddings` (also any
//! OpenAI-compatible provider's) and Gemini's `:batchEmbedContents` and `:embedContent`.
//!
//! Shapes as the providers send them: OpenAI's list of `embedding` objects with `usage`
//! (`prompt_tokens`, `total_tokens`), floats or, for `encoding_format: "base64"`, base64 of
//! little-endian float32; Gemini's `embeddings[].values` (`embedding.values` for one) with no
//! token count. Vectors are deterministic: a unit vector seeded by the input text, so equal
//! texts embed equally and a test can recompute what it should get. `dimensions` /
//! `outputDimensionality` set the length; the default is the model's own (3072 for
//! `text-embedding-3-large` and `gemini-embedding-001`, else 1536). `mock:status=N` in an input
//! answers with that status.

use base64::Engine as _;
use serde_json::{json, Value};

use super::{openai, MockConfig, MockRequest, Reply};
use crate::knobs::Knobs;

/// The unit vector the mock gives `text` at `dims` dimensions (splitmix64 seeded by FNV-1a).
pub fn vector(text: &str, dims: usize) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let raw: Vec<f32> = (0..dims)
        .map(|_| (next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    raw.into_iter().map(|x| x / norm).collect()
}

fn default_dims(model: &str) -> usize {
    if model.contains("large") || model.starts_with("gemini-embedding") {
        3072
    } else {
        1536
    }
}

fn status_knob(texts: &[String]) -> Option<u16> {
    texts.iter().find_map(|t| Knobs::parse(t).status)
}

/// OpenAI `POST /v1/embeddings`.
pub fn openai(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let invalid = |message: &str| {
        openai::error(
            400,
            "invalid_request_error",
            "invalid_request_error",
            message,
        )
    };
    let key = match openai::authorize(config, req) {
        Ok(key) => key,
        Err(reply) => return reply,
    };
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return invalid("We could not parse the JSON body of your request.");
    };
    let Some(model) = body["model"].as_str() else {
        return invalid("you must provide a model parameter");
    };
    // Token ids embed as the text of their numbers.
    let texts: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => return invalid("'input' is a required property"),
    };
    if let Some(status) = status_knob(&texts) {
        return openai::key_error(status, &key);
    }
    let dims = match &body["dimensions"] {
        Value::Null => default_dims(model),
        d => match d.as_u64() {
            Some(n) if n > 0 => n as usize,
            _ => return invalid("'dimensions' must be a positive integer"),
        },
    };
    let base64 = match body["encoding_format"].as_str() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => return invalid("'encoding_format' must be 'float' or 'base64'"),
    };
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let v = vector(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    full(json!({"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
}

/// Gemini `:batchEmbedContents` (`batch`) or `:embedContent`, after the key was checked.
pub fn gemini(model: &str, batch: bool, body: &Value) -> Reply {
    let invalid = |message: &str| super::gemini::error(400, "INVALID_ARGUMENT", message);
    let one = |r: &Value| -> Result<(String, usize), Reply> {
        let parts = r["content"]["parts"].as_array();
        let text: Vec<&str> = parts
            .map(|p| p.iter().filter_map(|x| x["text"].as_str()).collect())
            .unwrap_or_default();
        if text.is_empty() {
            return Err(invalid(
                "* EmbedContentRequest.content: contents is not specified",
            ));
        }
        let dims = match &r["outputDimensionality"] {
            Value::Null => default_dims(model),
            d => d
                .as_u64()
                .filter(|n| *n > 0)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    invalid("* EmbedContentRequest.output_dimensionality: must be positive")
                })?,
        };
        Ok((text.join(" "), dims))
    };
    let requests: Vec<&Value> = if batch {
        match body["requests"].as_array() {
            Some(r) if !r.is_empty() => r.iter().collect(),
            _ => return invalid("* BatchEmbedContentsRequest.requests: requests is not specified"),
        }
    } else {
        vec![body]
    };
    let mut embedded = Vec::with_capacity(requests.len());
    for r in requests {
        // Each request of a batch names the model of the path, as Gemini requires.
        if batch && r["model"].as_str() != Some(&format!("models/{model}")) {
            return invalid("* BatchEmbedContentsRequest.requests[].model: the model in each request must match the model of the batch");
        }
        match one(r) {
            Ok(x) => embedded.push(x),
            Err(reply) => return reply,
        }
    }
    let texts: Vec<String> = embedded.iter().map(|(t, _)| t.clone()).collect();
    if let Some(status) = status_knob(&texts) {
        return super::gemini::status_error(status);
    }
    let values: Vec<Value> = embedded
        .iter()
        .map(|(text, dims)| json!({"values": vector(text, *dims)}))
        .collect();
    if batch {
        full(json!({"embeddings": values}))
    } else {
        full(json!({"embedding": values[0]}))
    }
}

fn full(body: Value) -> Reply {
    Reply::Full {
        status: 200,
        body: body.to_string().into_bytes(),
        delay: std::time::Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_deterministic_and_differ_by_text() {
        let a = vector("hello", 16);
        assert_eq!(a.len(), 16);
        assert_eq!(a, vector("hello", 16));
        assert_ne!(a, vector("hellp", 16));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
}
