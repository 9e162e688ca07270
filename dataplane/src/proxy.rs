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

use std::time::Instant;

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::{Dialect, Provider};
use warden_shared::snapshot::ProviderKey;
use warden_shared::vault::KeyScope;
use zeroize::Zeroizing;

use crate::auth::{authenticate, Caller, KeyHeader};
use crate::conn::{flush, Outcome, Request};
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
}

pub async fn chat_completions<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
) -> Result<Outcome> {
    let state = shard.state();
    let caller = authenticate(&state, req.buf, req.head, KeyHeader::BearerOnly)?;
    let prepared = {
        let mut scratch = shard.scratch.borrow_mut();
        let (fields, value) = parse_chat(req.body, &mut scratch)?;
        let target = state.route(&fields.model).ok_or_else(|| {
            Error::new(Kind::ModelNotFound, "unknown model")
                .with_detail(format!("{:?}", fields.model))
        })?;
        let key = provider_key(&caller, target.provider)?;
        let origin = state.origin(target.provider);
        let plaintext = open_key(&state, &caller, key)?;
        let meta = || Meta {
            id: format!("chatcmpl-{}", String::from_utf8_lossy(req.id)),
            model: target.alias.clone(),
            created: now(),
            include_usage: fields.include_usage,
        };
        let (request, translation) = match target.provider.dialect() {
            Dialect::OpenAi => {
                let r = request::openai(origin, &plaintext, req.body, &fields, target);
                (r, Translation::None)
            }
            Dialect::Anthropic => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                anthropic::request(&value, &target.upstream_model, fields.stream, &mut body)?;
                (
                    request::anthropic(origin, &plaintext, None, &body),
                    Translation::Anthropic(meta()),
                )
            }
            Dialect::Gemini => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                gemini::request(&value, &mut body)?;
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
        }
    };
    forward(shard, client, out, req, prepared, Dialect::OpenAi).await
}

/// The project's first key for `provider` (priority order).
pub fn provider_key<'s>(caller: &Caller<'s>, provider: Provider) -> Result<&'s ProviderKey> {
    caller
        .project
        .provider_keys
        .iter()
        .find(|k| k.provider == provider)
        .ok_or_else(|| {
            Error::new(
                Kind::NoProviderKey,
                "no provider key configured for this model's provider",
            )
            .with_detail(provider.name())
        })
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

/// Send a prepared request and answer the client in its dialect.
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
    } = prepared;
    let sent_at = Instant::now();
    let mut exchange = send(shard, origin, request).await?;
    let provider = Some(provider);
    if stream && exchange.head.status == 200 && exchange.head.event_stream {
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
            provider,
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
    let (status, retry_after) = (exchange.head.status, exchange.head.retry_after_s);
    exchange.release(shard);
    out.clear();
    let status = if (200..300).contains(&status) {
        let translated = match &translation {
            Translation::None => None,
            Translation::Anthropic(meta) => Some(translate_whole(&mut body, |b, o| {
                anthropic::response(b, meta, o)
            })?),
            Translation::Gemini(meta, prefix) => Some(translate_whole(&mut body, |b, o| {
                gemini::response(b, meta, prefix, o)
            })?),
        };
        let body = translated.as_deref().unwrap_or(&body);
        respond::full(out, status, respond::JSON, body, req.id, req.keep_alive);
        status
    } else {
        let mapped =
            provider_error::map(dialect, provider_of(provider), status, &body, fingerprint);
        let retry = retry_after.map(|v| v.to_string().into_bytes());
        let extra: Vec<(&str, &[u8])> = retry
            .iter()
            .map(|v| ("retry-after", v.as_slice()))
            .collect();
        respond::head(
            out,
            mapped.status,
            respond::JSON,
            BodyLen::Fixed(mapped.body.len()),
            req.id,
            req.keep_alive,
            &extra,
        );
        out.extend_from_slice(&mapped.body);
        mapped.status
    };
    let written = flush(client, out).await.is_ok();
    Ok(Outcome {
        status,
        provider,
        upstream,
        keep_alive: written && req.keep_alive,
    })
}

fn provider_of(p: Option<Provider>) -> Provider {
    p.unwrap_or(Provider::OpenAi)
}

fn translate_whole(
    body: &mut [u8],
    f: impl FnOnce(&mut [u8], &mut Vec<u8>) -> Result<crate::translate::Usage>,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + 256);
    f(body, &mut out)?;
    Ok(out)
}
