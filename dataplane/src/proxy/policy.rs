//! What a project's policy decides around the upstream call, besides guardrails: limits
//! (admitted here, settled by `Request::settle_limits` when the response record is committed) and complexity routing for route groups.

use simd_json::prelude::*;

use crate::auth::Caller;
use crate::context::Request;
use crate::error::Result;
use crate::shard::Shard;
use crate::state::ServingState;
use crate::translate::now;

/// Score a request for a route group and pick its tier's model; the answer's `x-warden-route`
/// header says why.
pub fn route_by_complexity<'s>(
    shard: &Shard,
    state: &'s ServingState,
    req: &Request<'_>,
    caller: &Caller<'_>,
    value: &simd_json::BorrowedValue<'_>,
    tiers: &'s [Box<str>; 4],
) -> Option<&'s crate::state::RouteTarget> {
    let shape = crate::complexity::Shape {
        messages: value
            .get("messages")
            .and_then(|m| m.as_array())
            .map_or(0, Vec::len),
        tools: value
            .get("tools")
            .and_then(|t| t.as_array())
            .is_some_and(|t| !t.is_empty()),
        max_output: max_output(value),
    };
    let score = shard.scorer.score(&shard.scorer_scratch, req.body, shape);
    let route = state.tier_route(caller.project, tiers, score.tier)?;
    req.headers
        .borrow_mut()
        .push(("x-warden-route", score.header(&route.alias)));
    Some(route)
}

/// The header on answers for a project whose spend is past its warning threshold.
pub const BUDGET_WARNING: (&str, &[u8]) = (
    "x-warden-budget-warning",
    b"monthly spend is past the warning threshold",
);

/// Admit a request under its project's limits, before anything goes upstream (a refusal is
/// counted by limit). `max_output` is the output the request asks for, if it says.
pub fn admit(
    shard: &Shard,
    req: &Request<'_>,
    caller: &Caller<'_>,
    max_output: Option<u64>,
) -> Result<crate::limits::Admission> {
    let p = caller.project;
    let estimate = crate::limits::estimate(req.body.len(), max_output);
    let a = crate::limits::admit(&p.limits, &p.counters, estimate, now()).inspect_err(|e| {
        if let Some(limit) = crate::limits::refused_by(e) {
            shard.metrics.spend.refused(limit);
        }
    })?;
    if a.warn {
        req.headers
            .borrow_mut()
            .push((BUDGET_WARNING.0, BUDGET_WARNING.1.to_vec()));
    }
    Ok(a)
}

/// The output tokens a request asks for: OpenAI's `max_completion_tokens` / `max_tokens`,
/// Anthropic's `max_tokens`, Gemini's `generationConfig.maxOutputTokens` (under either of the
/// spellings Gemini takes: `generation_config.max_output_tokens`).
pub fn max_output(value: &simd_json::BorrowedValue<'_>) -> Option<u64> {
    let gemini = || {
        let config = value
            .get("generationConfig")
            .or_else(|| value.get("generation_config"))?;
        config
            .get("maxOutputTokens")
            .or_else(|| config.get("max_output_tokens"))
    };
    value
        .get("max_completion_tokens")
        .or_else(|| value.get("max_tokens"))
        .or_else(gemini)
        .and_then(|v| v.as_u64())
}

/// Whether the request asks for its answer as JSON — OpenAI's `response_format` (`json_object`,
/// `json_schema`) or the Responses API's `text.format`, Anthropic's `output_format`, Gemini's
/// JSON `responseMimeType` or a response schema (either spelling): then the answer's text is
/// JSON source the client parses, and the response guard puts restored values in escaped.
pub fn json_answer(value: &simd_json::BorrowedValue<'_>) -> bool {
    let kind = |v: Option<&simd_json::BorrowedValue<'_>>| {
        v.and_then(|f| f.get("type"))
            .and_then(|t| t.as_str())
            .is_some_and(|t| matches!(t, "json_object" | "json_schema"))
    };
    let gemini = value
        .get("generationConfig")
        .or_else(|| value.get("generation_config"))
        .is_some_and(|c| {
            let mime = c
                .get("responseMimeType")
                .or_else(|| c.get("response_mime_type"))
                .and_then(|m| m.as_str());
            mime.is_some_and(|m| m.eq_ignore_ascii_case("application/json"))
                || [
                    "responseSchema",
                    "response_schema",
                    "responseJsonSchema",
                    "response_json_schema",
                ]
                .iter()
                .any(|k| c.get(*k).is_some_and(|s| !s.is_null()))
        });
    kind(value.get("response_format"))
        || kind(value.get("text").and_then(|t| t.get("format")))
        || kind(value.get("output_format"))
        || gemini
}

#[cfg(test)]
mod tests {
    use super::{json_answer, max_output};

    #[test]
    fn a_json_answer_is_recognised_in_every_dialect_and_spelling() {
        for (body, want) in [
            (r#"{"response_format":{"type":"json_object"}}"#, true),
            (
                r#"{"response_format":{"type":"json_schema","json_schema":{}}}"#,
                true,
            ),
            (r#"{"response_format":{"type":"text"}}"#, false),
            (r#"{"text":{"format":{"type":"json_schema"}}}"#, true),
            (
                r#"{"output_format":{"type":"json_schema","schema":{}}}"#,
                true,
            ),
            (
                r#"{"generationConfig":{"responseMimeType":"application/json"}}"#,
                true,
            ),
            (
                r#"{"generation_config":{"response_schema":{"type":"OBJECT"}}}"#,
                true,
            ),
            (
                r#"{"generationConfig":{"responseMimeType":"text/plain"}}"#,
                false,
            ),
            (r#"{"messages":[]}"#, false),
        ] {
            let mut bytes = body.as_bytes().to_vec();
            let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json_answer(&v), want, "{body}");
        }
    }

    #[test]
    fn the_output_asked_for_is_read_in_every_dialect_and_spelling() {
        for (body, want) in [
            (r#"{"max_completion_tokens":7,"max_tokens":9}"#, Some(7)),
            (r#"{"max_tokens":9}"#, Some(9)),
            (r#"{"generationConfig":{"maxOutputTokens":11}}"#, Some(11)),
            (
                r#"{"generation_config":{"max_output_tokens":12}}"#,
                Some(12),
            ),
            (r#"{"generationConfig":{"max_output_tokens":13}}"#, Some(13)),
            (r#"{"generationConfig":{"temperature":0}}"#, None),
        ] {
            let mut bytes = body.as_bytes().to_vec();
            let value = simd_json::to_borrowed_value(&mut bytes).unwrap();
            assert_eq!(max_output(&value), want, "{body}");
        }
    }
}
