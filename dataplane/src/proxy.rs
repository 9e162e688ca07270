//! `POST /v1/chat/completions`: authenticate, route the alias, open the provider key for this
//! one request, forward, and answer — whole, or streamed event by event.
//!
//! Streaming: the response pump reads the provider, frames whole SSE events, and writes them to
//! the client as chunks as soon as they are complete. It reads the provider only after the
//! previous write to the client finished, so a slow client slows the provider read
//! (back-pressure) and memory stays bounded by one read plus one partial event. A client that
//! goes away ends the pump and the provider connection is closed, never pooled. A provider that
//! breaks off mid-stream gets the client an OpenAI-style error event and a clean end.

use std::time::{Duration, Instant};

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::{Dialect, Provider};
use warden_shared::vault::KeyScope;

use crate::auth::authenticate;
use crate::conn::{flush, Outcome, Request};
use crate::error::{Error, Kind, Result};
use crate::http::respond::{self, BodyLen};
use crate::route::{inspect_chat, split_at_model, ChatFields};
use crate::shard::Shard;
use crate::sse::EventFramer;
use crate::state::RouteTarget;
use crate::upstream::client::{send, Exchange};
use crate::upstream::io::SecretBuf;
use crate::upstream::origin::Origin;

pub async fn chat_completions<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
) -> Result<Outcome> {
    let state = shard.state();
    let caller = authenticate(&state, req.buf, req.head, false)?;
    let fields = inspect_chat(req.body, &mut shard.scratch.borrow_mut())?;
    let target = state.route(&fields.model).ok_or_else(|| {
        Error::new(Kind::ModelNotFound, "unknown model").with_detail(format!("{:?}", fields.model))
    })?;
    if target.provider.dialect() != Dialect::OpenAi {
        return Err(Error::new(
            Kind::InvalidRequest,
            "this provider is not served by this build yet",
        )
        .with_detail(target.provider.name()));
    }
    let key = caller
        .project
        .provider_keys
        .iter()
        .find(|k| k.provider == target.provider)
        .ok_or_else(|| {
            Error::new(
                Kind::NoProviderKey,
                "no provider key configured for this model's provider",
            )
            .with_detail(target.provider.name())
        })?;
    let origin = state.origin(target.provider);
    let request = {
        let scope = KeyScope {
            tenant: &caller.project.tenant,
            project: &caller.project.id,
            provider: key.provider,
            key_id: &key.id,
        };
        let plaintext = state
            .master
            .open(scope, &key.sealed)
            .map_err(|_| Error::new(Kind::Internal, "a provider key could not be opened"))?;
        openai_request(origin, &plaintext, req.body, &fields, target)
        // `plaintext` is wiped here; the request buffer wipes itself once written.
    };
    let sent_at = Instant::now();
    let mut exchange = send(shard, origin, request).await?;
    let provider = Some(target.provider);
    let idle = shard.timeouts.upstream_idle;
    if fields.stream && exchange.head.status == 200 && exchange.head.event_stream {
        let end = pump(shard, client, out, &mut exchange, req).await;
        let upstream = sent_at.elapsed();
        shard
            .metrics
            .upstream
            .observe_us(upstream.as_micros() as u64);
        let keep_alive = matches!(end, StreamEnd::Complete) && req.keep_alive;
        if matches!(end, StreamEnd::Complete) {
            exchange.release(shard);
        }
        return Ok(Outcome {
            status: 200,
            provider,
            upstream,
            keep_alive,
        });
    }
    let body = exchange
        .read_to_end(shard.limits.max_response_bytes, idle)
        .await?;
    let upstream = sent_at.elapsed();
    shard
        .metrics
        .upstream
        .observe_us(upstream.as_micros() as u64);
    let status = exchange.head.status;
    let retry_after = exchange.head.retry_after_s;
    exchange.release(shard);
    out.clear();
    if (200..300).contains(&status) {
        respond::full(out, status, respond::JSON, &body, req.id, req.keep_alive);
    } else {
        let mut err = Vec::with_capacity(256);
        provider_error(&mut err, target.provider, status, &body, &key.fingerprint);
        let mut retry = retry_after.map(|v| v.to_string().into_bytes());
        let extra: &[(&str, &[u8])] = match retry.as_mut() {
            Some(v) => &[("retry-after", v.as_slice())],
            None => &[],
        };
        respond::head(
            out,
            status,
            respond::JSON,
            BodyLen::Fixed(err.len()),
            req.id,
            req.keep_alive,
            extra,
        );
        out.extend_from_slice(&err);
    }
    let written = flush(client, out).await.is_ok();
    Ok(Outcome {
        status,
        provider,
        upstream,
        keep_alive: written && req.keep_alive,
    })
}

/// The request to an OpenAI-compatible provider: our headers (the tenant's key, never the
/// client's), and the client's body with only `model` replaced.
fn openai_request(
    origin: &Origin,
    key: &[u8],
    body: &[u8],
    fields: &ChatFields,
    target: &RouteTarget,
) -> SecretBuf {
    let mut model = Vec::with_capacity(target.upstream_model.len() + 2);
    respond::json_string(&mut model, &target.upstream_model);
    let body_len = body.len() - fields.model_span.len() + model.len();
    let mut req = SecretBuf::with_capacity(body_len + 384 + key.len());
    req.extend(b"POST ");
    req.extend(origin.base_path.as_bytes());
    req.extend(b"/chat/completions HTTP/1.1\r\nhost: ");
    req.extend(origin.authority.as_bytes());
    req.extend(b"\r\nauthorization: Bearer ");
    req.extend(key);
    req.extend(b"\r\ncontent-type: application/json\r\naccept: ");
    req.extend(if fields.stream {
        b"text/event-stream" as &[u8]
    } else {
        b"application/json"
    });
    req.extend(b"\r\nuser-agent: warden/");
    req.extend(env!("CARGO_PKG_VERSION").as_bytes());
    req.extend(b"\r\ncontent-length: ");
    req.extend(body_len.to_string().as_bytes());
    req.extend(b"\r\n\r\n");
    let (before, after) = split_at_model(body, &fields.model_span);
    req.extend(before);
    req.extend(&model);
    req.extend(after);
    req
}

/// A provider's error as an OpenAI error body. Messages of auth failures are replaced: providers
/// echo part of the rejected key there, and the client should not see any of it.
fn provider_error(
    out: &mut Vec<u8>,
    provider: Provider,
    status: u16,
    body: &[u8],
    fingerprint: &str,
) {
    use simd_json::prelude::{ValueAsScalar, ValueObjectAccess};
    let mut scratch = body.to_vec();
    let parsed = simd_json::to_borrowed_value(&mut scratch).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| {
        err.and_then(|e| e.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let message = if matches!(status, 401 | 403) {
        format!(
            "{} rejected the project's provider key ({fingerprint}) with status {status}",
            provider.name()
        )
    } else {
        field("message").unwrap_or_else(|| format!("{} returned status {status}", provider.name()))
    };
    let error_type = field("type").unwrap_or_else(|| default_type(status).to_owned());
    let code = field("code").unwrap_or_else(|| format!("provider_status_{status}"));
    let param = field("param");
    respond::error_body(out, &message, &error_type, param.as_deref(), &code);
}

fn default_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

enum StreamEnd {
    Complete,
    ClientGone,
    UpstreamFailed,
}

async fn pump<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    exchange: &mut Exchange,
    req: &Request<'_>,
) -> StreamEnd {
    out.clear();
    respond::head(
        out,
        200,
        respond::EVENT_STREAM,
        BodyLen::Chunked,
        req.id,
        req.keep_alive,
        &[],
    );
    if flush(client, out).await.is_err() {
        shard.metrics.stream_client_disconnects.inc();
        return StreamEnd::ClientGone;
    }
    let mut framer = EventFramer::new(shard.limits.max_sse_event_bytes);
    let mut data = Vec::with_capacity(16 * 1024);
    let idle: Duration = shard.timeouts.upstream_idle;
    loop {
        data.clear();
        let more = match exchange.next_data(&mut data, idle).await {
            Ok(more) => more,
            Err(e) => return fail_stream(shard, client, out, &e).await,
        };
        if framer.push(&data).is_err() {
            let e = Error::new(
                Kind::UpstreamProtocol,
                "provider sent an event larger than the limit",
            );
            return fail_stream(shard, client, out, &e).await;
        }
        respond::chunk(out, framer.complete());
        framer.take_complete();
        if !more {
            // Clean end: pass on any unterminated tail as is, then end the chunked body.
            respond::chunk(out, framer.pending());
            out.extend_from_slice(respond::LAST_CHUNK);
        }
        if !out.is_empty() && flush(client, out).await.is_err() {
            shard.metrics.stream_client_disconnects.inc();
            return StreamEnd::ClientGone;
        }
        if !more {
            return StreamEnd::Complete;
        }
    }
}

/// End a started stream after a provider failure: an OpenAI-style error event, then a clean end.
async fn fail_stream<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut S,
    out: &mut Vec<u8>,
    e: &Error,
) -> StreamEnd {
    tracing::debug!(code = e.code(), "stream broken off: {e}");
    shard.metrics.stream_upstream_failures.inc();
    let mut event = b"data: ".to_vec();
    respond::error_body(&mut event, &e.to_string(), e.error_type(), None, e.code());
    event.extend_from_slice(b"\n\n");
    out.clear();
    respond::chunk(out, &event);
    out.extend_from_slice(respond::LAST_CHUNK);
    let _ = flush(client, out).await;
    StreamEnd::UpstreamFailed
}
