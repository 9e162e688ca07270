//! Forwarding: `POST /v1/chat/completions` for every provider (translated when the provider
//! speaks another dialect), and the native Anthropic and Gemini routes ([`native`]).
//!
//! Each handler authenticates, routes the alias, opens the provider key for this one request
//! and builds the upstream request ([`request`]) — all before the first await, so nothing that
//! borrows shard scratch space lives across I/O — then [`forward`] sends it and answers the
//! client: streamed through the [`pump`] (event by event, translated or passed through), or
//! whole, with provider errors mapped to the caller's dialect ([`provider_error`]).

pub mod attempt;
pub mod native;
pub mod policy;
pub mod provider_error;
pub mod pump;
pub mod request;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::{Dialect, Provider};

use crate::auth::Caller;
use crate::conn::{commit_response, flush, Outcome, Request};
use crate::error::{Error, Kind, Result};
use crate::http::respond::{self, BodyLen};
use crate::route::parse_chat;
use crate::shard::Shard;
use crate::state::{KeyRef, KeySource, ServingState};
use crate::translate::{anthropic, gemini, now, Meta, StreamTranslator};
use attempt::Attempt;
use policy::route_by_complexity;
pub use policy::{admit, max_output, settle, BUDGET_WARNING};

/// How a provider's answer is turned into the client's.
#[derive(Clone)]
pub enum Translation {
    /// Same dialect on both sides.
    None,
    Anthropic(Meta),
    /// Gemini, with the prefix that makes generated tool-call ids unique.
    Gemini(Meta, String),
}

/// A request ready to go to the provider: the attempts to make, in order (never empty).
pub struct Prepared<'s> {
    pub attempts: Vec<Attempt<'s>>,
    pub stream: bool,
    /// Response-side guardrails, in the client's dialect.
    pub response_guard: Option<crate::guard::response::ResponseGuard>,
}

pub async fn chat_completions<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
) -> Result<Outcome> {
    let (state, caller) = (req.state, req.caller()?);
    let admission;
    let prepared = {
        let mut scratch = shard.scratch.borrow_mut();
        let (fields, value) = parse_chat(req.body, &mut scratch)?;
        let target = match (state.route(&fields.model), state.group(&fields.model)) {
            (Some(t), _) => Some(t),
            (None, Some(tiers)) => route_by_complexity(shard, state, req, caller, &value, tiers),
            (None, None) => None,
        }
        .ok_or_else(|| {
            Error::new(Kind::ModelNotFound, "unknown model")
                .with_detail(format!("{:?}", fields.model))
        })?;
        let guard = screen(shard, state, req, Dialect::OpenAi, &value, caller)?;
        admission = admit(shard, req, caller, max_output(&value))?;
        let stream = fields.stream;
        let fields = Rc::new(fields);
        let replacements = Rc::new(guard.replacements.clone());
        let mut attempts = Vec::new();
        let mut keys = Vec::new();
        for route in attempt::routes(state, target) {
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
            };
            let (body, translation) = match route.provider.dialect() {
                Dialect::OpenAi => (
                    attempt::Body::OpenAi {
                        target: route,
                        fields: Rc::clone(&fields),
                        replacements: Rc::clone(&replacements),
                    },
                    Translation::None,
                ),
                Dialect::Anthropic => {
                    let mut body = Vec::with_capacity(req.body.len() + 256);
                    anthropic::request(&value, &route.upstream_model, stream, &mut body)?;
                    let body = Rc::new(redact(body, &guard)?);
                    (
                        attempt::Body::Anthropic {
                            body,
                            headers: None,
                        },
                        Translation::Anthropic(meta()),
                    )
                }
                Dialect::Gemini => {
                    let mut body = Vec::with_capacity(req.body.len() + 256);
                    gemini::request(&value, &mut body)?;
                    let body = Rc::new(redact(body, &guard)?);
                    let method = if stream {
                        ":streamGenerateContent?alt=sse"
                    } else {
                        ":generateContent"
                    };
                    let prefix = String::from_utf8_lossy(req.id).into_owned();
                    (
                        attempt::Body::Gemini { body, method },
                        Translation::Gemini(meta(), prefix),
                    )
                }
            };
            for key in &keys {
                if attempts.len() == shard.fallback.max_attempts {
                    break;
                }
                attempts.push(Attempt {
                    origin: state.origin(route.provider),
                    provider: route.provider,
                    alias: Some(&route.alias),
                    upstream_model: Arc::clone(&route.upstream_model),
                    key: *key,
                    owner: owner(caller, key),
                    body: body.clone(),
                    translation: translation.clone(),
                });
            }
        }
        let first = attempts.first().ok_or_else(|| no_key(target.provider))?;
        note_route(req, first, stream);
        Prepared {
            attempts,
            stream,
            response_guard: crate::guard::response::ResponseGuard::with_request(
                &caller.project.guardrails,
                &guard,
                crate::guard::custom::CustomScan::for_project(state, caller.project),
            ),
        }
    };
    let outcome = forward(shard, client, out, req, state, prepared, Dialect::OpenAi).await;
    settle(state, req, caller, &admission);
    outcome
}

/// The tenant and project a key was sealed for ("" and "" for a pooled key).
pub fn owner<'s>(caller: &Caller<'s>, key: &KeyRef<'_>) -> (&'s str, &'s str) {
    match key.source {
        KeySource::Byok => (&caller.project.tenant, &caller.project.id),
        KeySource::Pooled => ("", ""),
    }
}

/// The error when no key may serve a request to `provider`.
pub fn no_key(provider: Provider) -> Error {
    Error::new(
        Kind::NoProviderKey,
        "no provider key configured for this model's provider",
    )
    .with_detail(provider.name())
}

/// Run the project's guardrails over a parsed request and record the verdicts; a block is the
/// error the client gets.
pub fn screen(
    shard: &Shard,
    state: &Rc<ServingState>,
    req: &Request<'_>,
    dialect: Dialect,
    value: &simd_json::BorrowedValue<'_>,
    caller: &Caller<'_>,
) -> Result<crate::guard::apply::Plan> {
    let traced = req.trace.is_some_and(|t| t.record);
    let from = if traced { crate::audit::now_us() } else { 0 };
    let plan = crate::guard::apply::check(
        &shard.guard,
        &shard.guard_scratch,
        crate::guard::custom::CustomScan::for_project(state, caller.project).as_ref(),
        dialect,
        value,
        &caller.project.guardrails,
    );
    shard.metrics.verdicts(&plan.verdicts);
    if traced {
        req.audit.borrow_mut().guard_us = Some((from, crate::audit::now_us()));
    }
    if !plan.verdicts.is_empty() {
        req.audit.borrow_mut().verdicts = plan.verdicts.clone();
    }
    match plan.refusal() {
        Some(e) => Err(e),
        None => Ok(plan),
    }
}

/// A finished outgoing body with the guardrails' placeholders in.
pub fn redact(body: Vec<u8>, plan: &crate::guard::apply::Plan) -> Result<Vec<u8>> {
    if plan.replacements.is_empty() {
        return Ok(body);
    }
    crate::guard::apply::rewrite(&body, &plan.replacements)
}

/// A provider key's id and fingerprint.
pub type KeyLabel = (Arc<str>, Arc<str>);

/// Record the route an attempt takes in the request's audit entry.
pub fn note_route(req: &Request<'_>, a: &Attempt<'_>, stream: bool) {
    let mut e = req.audit.borrow_mut();
    e.provider = Some(a.provider.name());
    e.model_alias = a.alias.cloned();
    e.upstream_model = Some(Arc::clone(&a.upstream_model));
    e.key_source = Some(a.key.source.name());
    e.provider_key_id = Some(a.key.label.0.clone());
    e.provider_key_fingerprint = Some(a.key.label.1.clone());
    e.stream = Some(stream);
}

pub use attempt::forward;

/// The attempt whose response is the client's, that response, and when it was sent.
pub struct Winner<'s> {
    pub attempt: Attempt<'s>,
    pub exchange: crate::upstream::client::Exchange,
    pub sent_at: Instant,
}

/// What the client asked for: a stream or not, in which dialect, screened by which guard.
pub struct Delivery {
    pub stream: bool,
    pub dialect: Dialect,
    pub response_guard: Option<crate::guard::response::ResponseGuard>,
}

/// Answer the client from the provider's response to the attempt that is the client's: streamed
/// through the pump, or whole. The `response` record is committed before the answer's last
/// bytes go out.
pub async fn answer<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
    winner: Winner<'_>,
    delivery: Delivery,
) -> Result<Outcome> {
    let Winner {
        attempt: a,
        mut exchange,
        sent_at,
    } = winner;
    let Delivery {
        stream,
        dialect,
        mut response_guard,
    } = delivery;
    // Usage was asked for on the client's behalf (to meter the stream): its chunk is dropped.
    let strip_usage =
        matches!(&a.body, attempt::Body::OpenAi { fields, .. } if !fields.include_usage);
    let (provider, fingerprint, translation) = (a.provider, &a.key.key.fingerprint, a.translation);
    {
        let mut e = req.audit.borrow_mut();
        e.first_byte_us = Some(e.received_us + req.started.elapsed().as_micros() as u64);
    }
    let status = exchange.head.status;
    if stream && status == 200 && exchange.head.event_stream {
        let translator = match translation {
            Translation::None => StreamTranslator::Passthrough,
            Translation::Anthropic(meta) => {
                StreamTranslator::Anthropic(Box::new(anthropic::Stream::new(meta)))
            }
            Translation::Gemini(meta, prefix) => {
                StreamTranslator::Gemini(Box::new(gemini::Stream::new(meta, prefix)))
            }
        };
        let end = pump::run(
            shard,
            client,
            out,
            &mut exchange,
            req,
            pump::Stream {
                translator,
                dialect,
                sent_at,
                guard: response_guard.as_mut(),
                strip_usage,
            },
        )
        .await;
        let upstream = sent_at.elapsed();
        shard
            .metrics
            .upstream
            .observe_us(upstream.as_micros() as u64);
        let complete = matches!(end, pump::End::Complete);
        if complete {
            exchange.release(shard);
        }
        return Ok(Outcome {
            status: 200,
            provider: Some(provider),
            upstream,
            keep_alive: complete && req.keep_alive,
        });
    }
    let mut body = exchange
        .read_to_end(
            shard.limits.max_response_bytes,
            shard.timeouts.upstream_idle,
        )
        .await?;
    let upstream = sent_at.elapsed();
    shard
        .metrics
        .upstream
        .observe_us(upstream.as_micros() as u64);
    let retry_after = exchange.head.retry_after_s;
    exchange.release(shard);
    req.audit.borrow_mut().answer_bytes = body.len() as u64;
    let (status, answer, error) = if (200..300).contains(&status) {
        let (usage, translated) = match &translation {
            Translation::None => (passthrough_usage(dialect, &body), None),
            Translation::Anthropic(meta) => {
                let (u, t) = translate_whole(&mut body, |b, o| anthropic::response(b, meta, o))?;
                (Some(u), Some(t))
            }
            Translation::Gemini(meta, prefix) => {
                let (u, t) =
                    translate_whole(&mut body, |b, o| gemini::response(b, meta, prefix, o))?;
                (Some(u), Some(t))
            }
        };
        req.audit.borrow_mut().usage = usage.map(audit_usage);
        let mut answer = translated.unwrap_or(body);
        if let Some(g) = response_guard.as_mut() {
            if let Some(filtered) = g.filter_body(&shard.guard, &shard.guard_scratch, &answer) {
                answer = filtered;
            }
            note_response_verdicts(shard, req, &g.verdicts);
        }
        (status, answer, None)
    } else {
        let mapped = provider_error::map(dialect, provider, status, &body, fingerprint);
        let body = provider_error::scrub_secrets(&shard.guard, &shard.guard_scratch, mapped.body);
        (mapped.status, body, Some("provider_error"))
    };
    commit_response(shard, req, status, error, upstream).await?;
    out.clear();
    let retry = retry_after
        .filter(|_| error.is_some())
        .map(|v| v.to_string().into_bytes());
    {
        let added = req.headers.borrow();
        let extra: Vec<(&str, &[u8])> = retry
            .iter()
            .map(|v| ("retry-after", v.as_slice()))
            .chain(added.iter().map(|(n, v)| (*n, v.as_slice())))
            .collect();
        respond::head(
            out,
            status,
            respond::JSON,
            BodyLen::Fixed(answer.len()),
            req.id,
            req.keep_alive,
            &extra,
        );
    }
    out.extend_from_slice(&answer);
    let written = flush(client, out).await.is_ok();
    Ok(Outcome {
        status,
        provider: Some(provider),
        upstream,
        keep_alive: written && req.keep_alive,
    })
}

/// Add response-side verdicts to the audit entry and the metrics.
pub fn note_response_verdicts(
    shard: &Shard,
    req: &Request<'_>,
    verdicts: &[crate::guard::apply::Verdict],
) {
    shard.metrics.verdicts(verdicts);
    if !verdicts.is_empty() {
        req.audit
            .borrow_mut()
            .verdicts
            .extend(verdicts.iter().cloned());
    }
}

/// Usage from an OpenAI-dialect response body (passthrough answers).
fn passthrough_usage(dialect: Dialect, body: &[u8]) -> Option<crate::translate::Usage> {
    let mut u = crate::translate::Usage::default();
    crate::translate::passthrough_usage(dialect, body, &mut u).then_some(u)
}

pub fn audit_usage(u: crate::translate::Usage) -> warden_shared::audit::Usage {
    warden_shared::audit::Usage {
        input_tokens: u.prompt,
        output_tokens: u.completion,
        cached_tokens: u.cached,
        reasoning_tokens: u.reasoning,
    }
}

fn translate_whole(
    body: &mut [u8],
    f: impl FnOnce(&mut [u8], &mut Vec<u8>) -> Result<crate::translate::Usage>,
) -> Result<(crate::translate::Usage, Vec<u8>)> {
    let mut out = Vec::with_capacity(body.len() + 256);
    let usage = f(body, &mut out)?;
    Ok((usage, out))
}
