//! Native routes for clients that speak a provider's own dialect: `POST /v1/messages`
//! (Anthropic; the Warden key in `x-api-key` or Bearer) and
//! `POST /v1beta/models/{model}:generateContent` / `:streamGenerateContent` (Gemini, also under
//! `/v1/`; the Warden key in `x-goog-api-key` or Bearer).
//!
//! Bodies and events pass through unchanged apart from the model name and the key; errors are
//! in the route's dialect. The model may be a catalog alias of that provider, or one of the
//! provider's upstream names the catalog uses.

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::{Dialect, Provider};

use std::rc::Rc;
use std::sync::Arc;

use super::attempt::{Attempt, Body};
use super::{
    admit, forward, max_output, no_key, note_route, owner, redact, screen, settle, Prepared,
    Translation,
};
use crate::auth::Caller;
use crate::conn::{Outcome, Request};
use crate::error::{Error, Kind, Result};
use crate::guard::custom::CustomScan;
use crate::guard::response::ResponseGuard;
use crate::http::respond::json_string;
use crate::route::{parse_model_body, split_at_model};
use crate::shard::Shard;
use crate::state::ServingState;
use crate::translate::anthropic::API_VERSION;

pub async fn anthropic_messages<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
) -> Result<Outcome> {
    let (state, caller) = (req.state, req.caller()?);
    let admission;
    let prepared = {
        let mut scratch = shard.scratch.borrow_mut();
        let (fields, value) = parse_model_body(req.body, &mut scratch)?;
        let guard = screen(shard, state, req, Dialect::Anthropic, &value, caller)?;
        admission = admit(shard, req, caller, max_output(&value))?;
        let (alias, upstream) = native_model(state, &fields.model, Provider::Anthropic)?;
        let mut body = Vec::with_capacity(req.body.len() + upstream.len());
        let (before, after) = split_at_model(req.body, &fields.model_span);
        body.extend_from_slice(before);
        json_string(&mut body, &upstream);
        body.extend_from_slice(after);
        let body = Rc::new(redact(body, &guard)?);
        let version = req
            .head
            .anthropic_version
            .map_or(API_VERSION.as_bytes(), |s| s.get(req.buf));
        let beta = req.head.anthropic_beta.map(|s| s.get(req.buf).to_vec());
        let headers = Some(Rc::new((version.to_vec(), beta)));
        let attempts = key_attempts(
            shard,
            state,
            caller,
            Provider::Anthropic,
            alias,
            &upstream,
            |_| Body::Anthropic {
                body: Rc::clone(&body),
                headers: headers.clone(),
            },
        )?;
        note_route(req, &attempts[0], fields.stream);
        Prepared {
            attempts,
            stream: fields.stream,
            response_guard: ResponseGuard::with_request(
                &caller.project.guardrails,
                &guard,
                CustomScan::for_project(state, caller.project),
            )
            .map(|g| g.in_dialect(Dialect::Anthropic)),
        }
    };
    let outcome = forward(shard, client, out, req, state, prepared, Dialect::Anthropic).await;
    settle(state, req, caller, &admission);
    outcome
}

pub async fn gemini_generate<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
) -> Result<Outcome> {
    let path = std::str::from_utf8(req.head.path.get(req.buf)).map_err(|_| unknown())?;
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let name = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))
        .ok_or_else(unknown)?;
    let (model, method) = name.split_once(':').ok_or_else(unknown)?;
    let sse = query.split('&').any(|p| p == "alt=sse");
    let method = match method {
        "generateContent" => ":generateContent",
        "streamGenerateContent" if sse => ":streamGenerateContent?alt=sse",
        "streamGenerateContent" => ":streamGenerateContent",
        _ => return Err(unknown()),
    };
    let (state, caller) = (req.state, req.caller()?);
    let admission;
    let prepared = {
        let mut scratch = shard.scratch.borrow_mut();
        scratch.clear();
        scratch.extend_from_slice(req.body);
        let value = simd_json::to_borrowed_value(&mut scratch).map_err(|e| {
            Error::new(Kind::InvalidJson, "request body is not valid JSON")
                .with_detail(e.to_string())
        })?;
        crate::route::refuse_duplicate_keys(req.body)?;
        let guard = screen(shard, state, req, Dialect::Gemini, &value, caller)?;
        admission = admit(shard, req, caller, max_output(&value))?;
        let body: std::borrow::Cow<'_, [u8]> = if guard.replacements.is_empty() {
            std::borrow::Cow::Borrowed(req.body)
        } else {
            std::borrow::Cow::Owned(crate::guard::apply::rewrite(req.body, &guard.replacements)?)
        };
        let (alias, upstream) = native_model(state, model, Provider::Google)?;
        let body = Rc::new(body.into_owned());
        let attempts = key_attempts(
            shard,
            state,
            caller,
            Provider::Google,
            alias,
            &upstream,
            |_| Body::Gemini {
                body: Rc::clone(&body),
                method,
            },
        )?;
        note_route(req, &attempts[0], sse);
        Prepared {
            attempts,
            stream: sse,
            response_guard: ResponseGuard::with_request(
                &caller.project.guardrails,
                &guard,
                CustomScan::for_project(state, caller.project),
            )
            .map(|g| g.in_dialect(Dialect::Gemini)),
        }
    };
    let outcome = forward(shard, client, out, req, state, prepared, Dialect::Gemini).await;
    settle(state, req, caller, &admission);
    outcome
}

/// A native route's attempts: every key the project may use for `provider`, same model (a
/// native dialect is not translated to another provider's).
fn key_attempts<'s>(
    shard: &Shard,
    state: &'s ServingState,
    caller: &Caller<'s>,
    provider: Provider,
    alias: Option<&'s Arc<str>>,
    upstream: &Arc<str>,
    body: impl Fn(usize) -> Body<'s>,
) -> Result<Vec<Attempt<'s>>> {
    let mut keys = Vec::new();
    state.keys_for(caller.project, provider, &mut keys);
    let attempts: Vec<Attempt<'s>> = keys
        .iter()
        .take(shard.fallback.max_attempts)
        .enumerate()
        .map(|(i, key)| Attempt {
            origin: state.origin(provider),
            provider,
            alias,
            upstream_model: Arc::clone(upstream),
            key: *key,
            owner: owner(caller, key),
            body: body(i),
            translation: Translation::None,
        })
        .collect();
    if attempts.is_empty() {
        return Err(no_key(provider));
    }
    Ok(attempts)
}

fn unknown() -> Error {
    Error::new(Kind::UnknownRoute, "unknown path")
}

/// The alias (when `name` is one) and the upstream model for `name` on a native route of
/// `provider`.
fn native_model<'s>(
    state: &'s ServingState,
    name: &str,
    provider: Provider,
) -> Result<(Option<&'s Arc<str>>, Arc<str>)> {
    match state.route(name) {
        Some(t) if t.provider == provider => Ok((Some(&t.alias), Arc::clone(&t.upstream_model))),
        Some(t) => Err(Error::new(
            Kind::InvalidRequest,
            "this model is served by another provider; use /v1/chat/completions",
        )
        .with_detail(t.provider.name())),
        None if state.is_upstream_model(provider, name) => Ok((None, name.into())),
        None => {
            Err(Error::new(Kind::ModelNotFound, "unknown model").with_detail(format!("{name:?}")))
        }
    }
}
