//! Forwarding: `POST /v1/chat/completions` for every provider (translated when the provider
//! speaks another dialect), and the native Anthropic and Gemini routes ([`native`]).
//!
//! Each handler authenticates, routes the alias, opens the provider key for this one request
//! and builds the upstream request ([`request`]) — all before the first await, so nothing that
//! borrows shard scratch space lives across I/O — then [`forward`] sends it and answers the
//! client: streamed through the [`pump`] (event by event, translated or passed through), or
//! whole, with provider errors mapped to the caller's dialect ([`provider_error`]).

pub mod native;
pub mod provider_error;
pub mod pump;
pub mod request;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::{Dialect, Provider};
use warden_shared::snapshot::ProviderKey;
use warden_shared::vault::KeyScope;
use zeroize::Zeroizing;

use crate::audit::AttemptEntry;
use crate::auth::{authenticate, Caller, KeyHeader};
use crate::conn::{audit_request, commit_response, flush, Outcome, Request};
use crate::error::{Error, Kind, Result};
use crate::http::respond::{self, BodyLen};
use crate::route::parse_chat;
use crate::shard::Shard;
use crate::state::ServingState;
use crate::translate::{anthropic, gemini, now, Meta, StreamTranslator};
use crate::upstream::client::send;
use crate::upstream::io::SecretBuf;
use crate::upstream::origin::Origin;

/// How a provider's answer is turned into the client's.
pub enum Translation {
    /// Same dialect on both sides.
    None,
    Anthropic(Meta),
    /// Gemini, with the prefix that makes generated tool-call ids unique.
    Gemini(Meta, String),
}

/// A request ready to go to the provider.
pub struct Prepared<'s> {
    pub origin: &'s Origin,
    pub request: SecretBuf,
    pub provider: Provider,
    pub fingerprint: &'s str,
    pub stream: bool,
    pub translation: Translation,
    /// Response-side guardrails (OpenAI-dialect answers).
    pub response_guard: Option<crate::guard::response::ResponseGuard>,
}

pub async fn chat_completions<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
) -> Result<Outcome> {
    let state = shard.state();
    let caller = authenticate(&state, req.buf, req.head, KeyHeader::BearerOnly)?;
    caller.note(&mut req.audit.borrow_mut());
    let prepared = {
        let mut scratch = shard.scratch.borrow_mut();
        let (fields, value) = parse_chat(req.body, &mut scratch)?;
        let target = state.route(&fields.model).ok_or_else(|| {
            Error::new(Kind::ModelNotFound, "unknown model")
                .with_detail(format!("{:?}", fields.model))
        })?;
        let guard = screen(shard, &state, req, Dialect::OpenAi, &value, &caller)?;
        let (key, label) = provider_key(&caller, target.provider)?;
        note_route(
            req,
            target.provider,
            Some(&target.alias),
            &target.upstream_model,
            label,
            fields.stream,
        );
        let origin = state.origin(target.provider);
        let plaintext = open_key(&state, &caller, key)?;
        let meta = || Meta {
            id: format!("chatcmpl-{}", String::from_utf8_lossy(req.id)),
            model: target.alias.as_ref().into(),
            created: now(),
            include_usage: fields.include_usage,
        };
        let (request, translation) = match target.provider.dialect() {
            Dialect::OpenAi => {
                let r = request::openai(
                    origin,
                    &plaintext,
                    req.body,
                    &fields,
                    target,
                    &guard.replacements,
                )?;
                (r, Translation::None)
            }
            Dialect::Anthropic => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                anthropic::request(&value, &target.upstream_model, fields.stream, &mut body)?;
                let body = redact(body, &guard)?;
                (
                    request::anthropic(origin, &plaintext, None, &body),
                    Translation::Anthropic(meta()),
                )
            }
            Dialect::Gemini => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                gemini::request(&value, &mut body)?;
                let body = redact(body, &guard)?;
                let method = if fields.stream {
                    ":streamGenerateContent?alt=sse"
                } else {
                    ":generateContent"
                };
                let r = request::gemini(origin, &plaintext, &target.upstream_model, method, &body);
                let prefix = String::from_utf8_lossy(req.id).into_owned();
                (r, Translation::Gemini(meta(), prefix))
            }
        };
        Prepared {
            origin,
            request,
            provider: target.provider,
            fingerprint: &key.fingerprint,
            stream: fields.stream,
            translation,
            response_guard: crate::guard::response::ResponseGuard::with_request(
                &caller.project.guardrails,
                &guard,
                crate::guard::custom::CustomScan::for_project(&state, caller.project),
            ),
        }
    };
    forward(shard, client, out, req, prepared, Dialect::OpenAi).await
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
    let plan = crate::guard::apply::check(
        &shard.guard,
        &shard.guard_scratch,
        crate::guard::custom::CustomScan::for_project(state, caller.project).as_ref(),
        dialect,
        value,
        &caller.project.guardrails,
    );
    for v in &plan.verdicts {
        let c = usize::from(v.category == "secrets");
        let a = ["flag", "redact", "restore", "block"]
            .iter()
            .position(|x| *x == v.action)
            .unwrap_or(0);
        shard.metrics.guard_verdicts[c][a].add(u64::from(v.count));
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

/// The project's first key for `provider` (priority order), with its shared id and
/// fingerprint for the audit record.
pub fn provider_key<'s>(
    caller: &Caller<'s>,
    provider: Provider,
) -> Result<(&'s ProviderKey, &'s KeyLabel)> {
    let p = caller.project;
    let i = p
        .provider_keys
        .iter()
        .position(|k| k.provider == provider)
        .ok_or_else(|| {
            Error::new(
                Kind::NoProviderKey,
                "no provider key configured for this model's provider",
            )
            .with_detail(provider.name())
        })?;
    Ok((&p.provider_keys[i], &p.key_labels[i]))
}

/// A provider key's id and fingerprint.
pub type KeyLabel = (Arc<str>, Arc<str>);

/// Record the route in the request's audit entry.
pub fn note_route(
    req: &Request<'_>,
    provider: Provider,
    alias: Option<&Arc<str>>,
    upstream: &str,
    key: &KeyLabel,
    stream: bool,
) {
    let mut e = req.audit.borrow_mut();
    e.provider = Some(provider.name());
    e.model_alias = alias.cloned();
    e.upstream_model = Some(upstream.into());
    e.key_source = Some("byok");
    e.provider_key_id = Some(key.0.clone());
    e.provider_key_fingerprint = Some(key.1.clone());
    e.stream = Some(stream);
}

/// Open a sealed provider key for this request; the plaintext is wiped when dropped.
pub fn open_key(
    state: &ServingState,
    caller: &Caller<'_>,
    key: &ProviderKey,
) -> Result<Zeroizing<Vec<u8>>> {
    let scope = KeyScope {
        tenant: &caller.project.tenant,
        project: &caller.project.id,
        provider: key.provider,
        key_id: &key.id,
    };
    state
        .master
        .open(scope, &key.sealed)
        .map_err(|_| Error::new(Kind::Internal, "a provider key could not be opened"))
}

/// Send a prepared request and answer the client in its dialect. The `request` audit record
/// is queued before anything is sent; the `response` record is committed before the answer's
/// last bytes go out.
pub async fn forward<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
    prepared: Prepared<'_>,
    dialect: Dialect,
) -> Result<Outcome> {
    let Prepared {
        origin,
        request,
        provider,
        fingerprint,
        stream,
        translation,
        mut response_guard,
    } = prepared;
    audit_request(shard, req).await?;
    let sent_at = Instant::now();
    let mut exchange = match send(shard, origin, request).await {
        Ok(x) => x,
        Err(e) => {
            note_attempt(req, attempt_outcome(&e), None);
            return Err(e);
        }
    };
    {
        let mut e = req.audit.borrow_mut();
        e.first_byte_us = Some(e.received_us + req.started.elapsed().as_micros() as u64);
    }
    let status = exchange.head.status;
    note_attempt(
        req,
        if (200..300).contains(&status) {
            "ok"
        } else {
            "status"
        },
        Some(status),
    );
    if stream && status == 200 && exchange.head.event_stream {
        let mut translator = match translation {
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
            &mut translator,
            dialect,
            sent_at,
            response_guard.as_mut(),
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
    let (status, answer, error) = if (200..300).contains(&status) {
        let (usage, translated) = match &translation {
            Translation::None => (openai_usage(dialect, &body), None),
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
        (mapped.status, mapped.body, Some("provider_error"))
    };
    commit_response(shard, req, status, error, upstream).await?;
    out.clear();
    let retry = retry_after
        .filter(|_| error.is_some())
        .map(|v| v.to_string().into_bytes());
    let extra: Vec<(&str, &[u8])> = retry
        .iter()
        .map(|v| ("retry-after", v.as_slice()))
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
    for v in verdicts {
        let c = usize::from(v.category == "secrets");
        let a = ["flag", "redact", "restore", "block"]
            .iter()
            .position(|x| *x == v.action)
            .unwrap_or(0);
        shard.metrics.guard_verdicts[c][a].add(u64::from(v.count));
    }
    if !verdicts.is_empty() {
        req.audit
            .borrow_mut()
            .verdicts
            .extend(verdicts.iter().cloned());
    }
}

/// Record how the (single) upstream attempt went.
fn note_attempt(req: &Request<'_>, outcome: &'static str, status: Option<u16>) {
    req.audit.borrow_mut().attempt = Some(AttemptEntry { outcome, status });
}

fn attempt_outcome(e: &Error) -> &'static str {
    match e.kind {
        Kind::UpstreamConnect => "connect",
        Kind::UpstreamTimeout => "timeout",
        Kind::UpstreamClosed => "closed",
        _ => "protocol",
    }
}

/// Usage from an OpenAI-dialect response body (passthrough answers).
fn openai_usage(dialect: Dialect, body: &[u8]) -> Option<crate::translate::Usage> {
    (dialect == Dialect::OpenAi)
        .then(|| crate::translate::openai_usage(body))
        .flatten()
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
