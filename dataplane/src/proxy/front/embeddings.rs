//! The embeddings front end's hooks: `POST /v1/embeddings` in OpenAI's dialect, answered by an
//! embedding alias's provider — OpenAI-compatible ones get the client's body with the model
//! spliced in (`/embeddings` under their base URL), Gemini one `:batchEmbedContents` call
//! (`translate/embeddings.rs`). Fallback aliases are embedding aliases too (the catalog check
//! refuses anything else); a fallback whose provider cannot take the input is passed over.
//!
//! The guardrails read `input` like any prompt (`extract.rs`). Token ids carry no text to read,
//! so a project with any request guardrail on gets 400 for them rather than an unscreened
//! request upstream.

use std::rc::Rc;

use simd_json::prelude::*;
use warden_shared::catalog::Dialect;
use warden_shared::snapshot::GuardAction;

use super::{no_key, push_attempts, redact, Parsed};
use crate::auth::Caller;
use crate::context::Request;
use crate::error::{Error, Kind, Result};
use crate::guard::apply::Plan as Screened;
use crate::proxy::attempt::{routes, Attempt, Body, Translation};
use crate::state::RouteTarget;
use crate::translate::embeddings::{gemini_request, input_texts, EmbedMeta};

/// Validate `input`, and refuse token ids where the project screens requests.
pub fn check_input(value: &simd_json::BorrowedValue<'_>, caller: &Caller<'_>) -> Result<()> {
    if input_texts(value)?.is_some() {
        return Ok(());
    }
    let g = &caller.project.guardrails;
    let screened = [g.pii, g.secrets, g.injection, g.content_safety]
        .iter()
        .any(|a| *a != GuardAction::Off)
        || caller.project.custom.is_some();
    if screened {
        return Err(Error::new(
            Kind::InvalidRequest,
            "token-id input cannot be screened by this project's guardrails; send the text",
        ));
    }
    Ok(())
}

/// The attempts for an embedding alias: its route, then its fallbacks, for every key the
/// project may use there.
pub fn attempts<'s>(
    req: &Request<'s>,
    caller: &Caller<'s>,
    parsed: Parsed<'_>,
    target: &'s RouteTarget,
    screened: &Screened,
    max: usize,
) -> Result<Vec<Attempt<'s>>> {
    let state = req.state;
    let Parsed { value, fields, .. } = parsed;
    let fields = Rc::new(fields);
    let replacements = Rc::new(screened.replacements.clone());
    let base64 = value.get("encoding_format").and_then(|f| f.as_str()) == Some("base64");
    let mut attempts = Vec::new();
    let mut keys = Vec::new();
    let mut refused = None;
    for route in routes(state, target) {
        keys.clear();
        state.keys_for(caller.project, route.provider, &mut keys);
        if keys.is_empty() {
            continue;
        }
        let planned = match route.provider.dialect() {
            Dialect::OpenAi => (
                Body::OpenAi {
                    path: "/embeddings",
                    body: None,
                    target: route,
                    fields: Rc::clone(&fields),
                    replacements: Rc::clone(&replacements),
                },
                Translation::None,
            ),
            Dialect::Gemini => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                let estimated_tokens =
                    match gemini_request(&value, &route.upstream_model, &mut body) {
                        Ok(n) => n,
                        Err(e) => {
                            refused.get_or_insert(e);
                            continue;
                        }
                    };
                let meta = EmbedMeta {
                    model: route.alias.as_ref().into(),
                    base64,
                    estimated_tokens,
                };
                (
                    Body::Gemini {
                        body: Rc::new(redact(body, screened)?),
                        method: ":batchEmbedContents",
                    },
                    Translation::GeminiEmbeddings(meta),
                )
            }
            // The catalog check keeps Anthropic, which has no embeddings, out of these routes.
            Dialect::Anthropic => continue,
        };
        push_attempts(&mut attempts, (state, caller, route), &keys, planned, max);
    }
    match (attempts.is_empty(), refused) {
        (false, _) => Ok(attempts),
        (true, Some(e)) => Err(e),
        (true, None) => Err(no_key(target.provider)),
    }
}

/// A native Gemini embedding body for `upstream`: each `model` it names (`requests[].model`
/// in a batch, the top-level one if any) set to `models/{upstream}`, as Gemini requires them
/// to match the path, when the client named an alias of another name. Names the body does not
/// hold exactly once per object, or holds escaped, are refused rather than guessed at.
pub fn native_body(body: &[u8], upstream: &str) -> Result<Vec<u8>> {
    use crate::route::{array_elements, unique_member};
    let refused = || {
        Error::new(
            Kind::InvalidRequest,
            "each request's model must be written once, as a plain string",
        )
    };
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(refused)?;
    let mut spans = Vec::new();
    if body.windows(7).any(|w| w == b"\"model\"") {
        spans.extend(unique_member(body, start, b"model"));
        if let Some(requests) = unique_member(body, start, b"requests") {
            for r in array_elements(body, requests.start).unwrap_or_default() {
                spans.push(unique_member(body, r.start, b"model").ok_or_else(refused)?);
            }
        }
    }
    let mut name = Vec::with_capacity(upstream.len() + 9);
    crate::http::respond::json_string(&mut name, &format!("models/{upstream}"));
    let mut out = Vec::with_capacity(body.len() + spans.len() * name.len());
    let mut at = 0;
    for span in spans {
        out.extend_from_slice(&body[at..span.start]);
        out.extend_from_slice(&name);
        at = span.end;
    }
    out.extend_from_slice(&body[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::native_body;

    #[test]
    fn native_embedding_bodies_name_the_upstream_model() {
        let batch = br#"{"requests":[{"model":"models/embed","content":{"parts":[{"text":"a \"model\""}]}},{ "model" : "models/embed","content":{}}]}"#;
        let out = native_body(batch, "gemini-embedding-001").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["requests"][0]["model"], "models/gemini-embedding-001");
        assert_eq!(v["requests"][1]["model"], "models/gemini-embedding-001");
        assert_eq!(
            v["requests"][0]["content"]["parts"][0]["text"],
            "a \"model\""
        );
        let single = br#"{"content":{"parts":[{"text":"x"}]}}"#;
        assert_eq!(native_body(single, "m").unwrap(), single.to_vec());
        let escaped = br#"{"requests":[{"mod\u0065l":"models/a","model":"models/b"}]}"#;
        assert!(native_body(escaped, "m").is_err());
    }
}
