//! The chat front end's attempts — `/v1/chat/completions`, and `/v1/responses` once its body
//! became a chat request ([`responses_to_chat`]): each route, the alias and then its fallbacks,
//! in its provider's dialect (the client's body spliced for OpenAI-compatible providers,
//! translated for Anthropic and Gemini), for every key the project may use there.

use std::rc::Rc;

use warden_shared::catalog::Dialect;
use warden_shared::snapshot::GuardAction;

use super::{no_key, push_attempts, redact, Parsed};
use crate::auth::Caller;
use crate::context::Request;
use crate::error::{Error, Kind, Result};
use crate::guard::apply::Plan as Screened;
use crate::proxy::attempt::{routes, Attempt, Body, Translation};
use crate::route::refuse_duplicate_keys;
use crate::state::{RouteTarget, ServingState};
use crate::translate::{anthropic, gemini, now, responses, Meta};

/// A chat request's attempts: each route (the target, then its fallbacks) in the provider's
/// dialect, for every key the project may use there.
pub fn attempts<'s>(
    req: &Request<'s>,
    caller: &Caller<'s>,
    parsed: Parsed<'_>,
    target: &'s RouteTarget,
    screened: &Screened,
    max: usize,
) -> Result<Vec<Attempt<'s>>> {
    let state: &'s ServingState = req.state;
    let Parsed {
        value,
        fields,
        converted,
    } = parsed;
    let converted = converted.map(|(chat, _)| chat);
    let stream = fields.stream;
    let fields = Rc::new(fields);
    let replacements = Rc::new(screened.replacements.clone());
    let policy = &caller.project.guardrails;
    let show_reasoning = policy.response_pii == GuardAction::Off
        && policy.response_secrets == GuardAction::Off
        && !caller
            .project
            .custom
            .as_ref()
            .is_some_and(|set| set.checks_responses());
    let mut attempts = Vec::new();
    let mut keys = Vec::new();
    for route in routes(state, target) {
        keys.clear();
        state.keys_for(caller.project, route.provider, &mut keys);
        if keys.is_empty() {
            continue;
        }
        let meta = || Meta {
            id: format!("chatcmpl-{}", String::from_utf8_lossy(req.id)),
            model: route.alias.as_ref().into(),
            created: now(),
            include_usage: fields.include_usage,
            json_tool: anthropic::structured_output(&value).is_some(),
            show_reasoning,
        };
        let (body, translation) = match route.provider.dialect() {
            Dialect::OpenAi => (
                Body::OpenAi {
                    path: "/chat/completions",
                    body: converted.clone(),
                    target: route,
                    fields: Rc::clone(&fields),
                    replacements: Rc::clone(&replacements),
                },
                Translation::None,
            ),
            Dialect::Anthropic => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                anthropic::request(&value, &route.upstream_model, stream, &mut body)?;
                (
                    Body::Anthropic {
                        body: Rc::new(redact(body, screened)?),
                        headers: None,
                    },
                    Translation::Anthropic(meta()),
                )
            }
            Dialect::Gemini => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                gemini::request(&value, &mut body)?;
                let method = if stream {
                    ":streamGenerateContent?alt=sse"
                } else {
                    ":generateContent"
                };
                let prefix = String::from_utf8_lossy(req.id).into_owned();
                (
                    Body::Gemini {
                        body: Rc::new(redact(body, screened)?),
                        method,
                    },
                    Translation::Gemini(meta(), prefix),
                )
            }
        };
        push_attempts(
            &mut attempts,
            (state, caller, route),
            &keys,
            (body, translation),
            max,
        );
    }
    if attempts.is_empty() {
        return Err(no_key(target.provider));
    }
    Ok(attempts)
}

/// A Responses request as a chat request, and the fields its answers repeat.
pub fn responses_to_chat(req: &Request<'_>) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut raw = req.body.to_vec();
    let value = simd_json::to_borrowed_value(&mut raw).map_err(|e| {
        Error::new(Kind::InvalidJson, "request body is not valid JSON").with_detail(e.to_string())
    })?;
    refuse_duplicate_keys(req.body)?;
    if !matches!(value, simd_json::BorrowedValue::Object(_)) {
        return Err(Error::new(
            Kind::InvalidRequest,
            "request body must be a JSON object",
        ));
    }
    let mut chat = Vec::with_capacity(req.body.len() + 128);
    let echo = responses::request(&value, &mut chat)?;
    Ok((chat, echo))
}
