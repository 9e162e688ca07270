//! Trying keys and providers in turn until one answers, while nothing has reached the client.
//!
//! A request's attempts are planned before the first await: for its route, then for each of
//! the route's fallback aliases, every key the project's routing allows (its own keys in
//! priority order, then the operator's pooled ones), at most `fallback.max_attempts`. Bodies
//! for translated providers are built then too; the client's OpenAI body is spliced per attempt.
//!
//! An attempt fails over to the next on a connect failure, a timeout or a closed connection
//! before the response head, or a 429, 5xx, 401 or 403 status — never once the client has
//! received anything. A 429's `retry-after` cools that key down (on this shard) for that long;
//! each key also has a per-shard circuit breaker: after `breaker_failures` consecutive
//! failures it is passed over for `breaker_open_ms`, then one request may probe it. Every
//! attempt (provider, key id, key source, outcome, status) goes into the audit record and the
//! metrics. The last candidate's answer, error or not, is the client's.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_shared::catalog::Provider;

use crate::audit::{AttemptEntry, AttemptOutcome};
use crate::context::Request;
use crate::error::{Error, Kind, Result};
use crate::route::ChatFields;
use crate::shard::Shard;
use crate::state::{KeyRef, KeySource, RouteTarget, ServingState};
use crate::upstream::io::SecretBuf;
use crate::upstream::origin::Origin;

use super::request;
use crate::cache::{Shape, Wire};
use crate::translate::anthropic::API_VERSION;
use crate::translate::Meta;
use crate::upstream::client::send;

/// Gemini's streaming method with server-sent events (without `alt=sse` it streams a JSON array).
pub const GEMINI_SSE: &str = ":streamGenerateContent?alt=sse";

/// The client's `anthropic-version` and `anthropic-beta` values, passed on by the native route.
pub type ClientHeaders = (Vec<u8>, Option<Vec<u8>>);

/// How an attempt's request bytes are made once its key is open.
#[derive(Clone)]
pub enum Body<'s> {
    /// An OpenAI-compatible provider: the client's body with this route's model spliced in,
    /// sent to `path` under the provider's base URL (`/chat/completions`, `/embeddings`).
    OpenAi {
        path: &'static str,
        /// The body to splice when it is not the client's own (a Responses request converted
        /// to chat).
        body: Option<Rc<Vec<u8>>>,
        target: &'s RouteTarget,
        fields: Rc<ChatFields>,
        replacements: Rc<Vec<(Vec<u8>, Vec<u8>)>>,
    },
    /// Anthropic Messages, built before the first await; the client's `anthropic-version` and
    /// `anthropic-beta` on the native route.
    Anthropic {
        body: Rc<Vec<u8>>,
        headers: Option<Rc<ClientHeaders>>,
        /// [`request::MESSAGES`], or its token count's path on the native route.
        path: &'static str,
    },
    /// An OpenAI request of the client's own, its model already spliced (a token count).
    OpenAiNative {
        body: Rc<Vec<u8>>,
        path: &'static str,
    },
    /// Gemini, built before the first await, and the method with its query.
    Gemini {
        body: Rc<Vec<u8>>,
        method: &'static str,
    },
}

/// How a provider's answer is turned into the client's.
#[derive(Clone)]
pub enum Translation {
    /// Same dialect on both sides.
    None,
    Anthropic(Meta),
    /// Gemini, with the prefix that makes generated tool-call ids unique.
    Gemini(Meta, String),
    /// OpenAI's Responses API answering a `/v1/responses` request: nothing to convert; the
    /// response guard reads it in the Responses API's shapes.
    ResponsesApi,
    /// Gemini `batchEmbedContents` to an OpenAI embeddings list.
    GeminiEmbeddings(crate::translate::embeddings::EmbedMeta),
}

/// One way to answer a request: a provider and model, a key, and the body for them.
pub struct Attempt<'s> {
    pub origin: &'s Origin,
    pub provider: Provider,
    pub alias: Option<&'s Arc<str>>,
    pub upstream_model: Arc<str>,
    pub key: KeyRef<'s>,
    /// The tenant and project the key was sealed for ("" and "" for a pooled key).
    pub owner: (&'s str, &'s str),
    pub body: Body<'s>,
    pub translation: Translation,
}

impl Attempt<'_> {
    /// The request bytes, with the key opened for just this call (wiped when dropped), and the
    /// request's trace context when there is one.
    pub fn request(
        &self,
        state: &ServingState,
        client_body: &[u8],
        traceparent: Option<&[u8; 55]>,
    ) -> Result<SecretBuf> {
        let scope = warden_shared::vault::KeyScope {
            tenant: self.owner.0,
            project: self.owner.1,
            provider: self.key.key.provider,
            key_id: &self.key.key.id,
        };
        let plaintext = state
            .master
            .open(scope, &self.key.key.sealed)
            .map_err(|_| Error::new(Kind::Internal, "a provider key could not be opened"))?;
        Ok(match &self.body {
            Body::OpenAi {
                path,
                body,
                target,
                fields,
                replacements,
            } => request::openai(
                (self.origin, traceparent, path),
                &plaintext,
                body.as_deref().map_or(client_body, Vec::as_slice),
                fields,
                target,
                replacements,
            )?,
            Body::Anthropic {
                body,
                headers,
                path,
            } => request::anthropic(
                ((self.origin, traceparent), path),
                &plaintext,
                headers
                    .as_deref()
                    .map(|(v, b)| (v.as_slice(), b.as_deref())),
                body,
            ),
            Body::OpenAiNative { body, path } => {
                request::openai_native((self.origin, traceparent), &plaintext, path, body)
            }
            Body::Gemini { body, method } => request::gemini(
                (self.origin, traceparent),
                &plaintext,
                &self.upstream_model,
                method,
                body,
            ),
        })
    }

    /// What this attempt's request expects back (`stream`: the client asked for a stream), and
    /// whether an answer kept in the other shape can be served to it (`cache/reshape.rs`).
    pub fn cache_shape(&self, stream: bool) -> Shape {
        let (event_stream, wire) = match &self.body {
            Body::OpenAi { path, .. } if *path == "/chat/completions" => {
                (stream, Some(Wire::OpenAiChat))
            }
            Body::OpenAi { path, .. } if *path == "/responses" => {
                (stream, Some(Wire::OpenAiResponses))
            }
            // Embeddings: never a stream.
            Body::OpenAi { .. } => (stream, None),
            Body::Anthropic { .. } => (stream, Some(Wire::Anthropic)),
            Body::OpenAiNative { .. } => (false, None),
            Body::Gemini { method, .. } => match *method {
                ":generateContent" => (false, Some(Wire::Gemini)),
                GEMINI_SSE => (true, Some(Wire::Gemini)),
                // A JSON array streamed, or embeddings: one body, in one shape.
                _ => (false, None),
            },
        };
        Shape { event_stream, wire }
    }

    /// The answer cache's key for this attempt's request: the provider, the model and the exact
    /// request this attempt sends (after the guardrails' redactions), never the key it opens.
    /// Attempts with other keys of the same provider and model have the same one. Where the
    /// answer can be served in either shape, the stream flag (`stream`, `stream_options`, the
    /// Gemini method) is left out: a streamed and an unstreamed request share their entry.
    pub fn cache_key(
        &self,
        mut key: crate::cache::KeyHasher,
        client_body: &[u8],
    ) -> Result<crate::cache::Key> {
        key.part(self.provider.name().as_bytes());
        key.part(self.upstream_model.as_bytes());
        let either_shape = self.cache_shape(false).wire.is_some();
        match &self.body {
            Body::OpenAi {
                path,
                body,
                target,
                fields,
                replacements,
            } => {
                key.part(path.as_bytes());
                let body = body.as_deref().map_or(client_body, Vec::as_slice);
                request::openai_body_key(
                    body,
                    fields,
                    target,
                    replacements,
                    either_shape,
                    &mut key,
                )?;
            }
            Body::Anthropic {
                body,
                headers,
                path,
            } => {
                // A count never shares an entry with the answer to the same messages (counts
                // are not cached; this keeps it so if they ever were).
                if *path != request::MESSAGES {
                    key.part(path.as_bytes());
                }
                let (version, beta) = headers
                    .as_deref()
                    .map_or((API_VERSION.as_bytes(), None), |(v, b)| {
                        (v.as_slice(), b.as_deref())
                    });
                key.part(version);
                key.part(beta.unwrap_or(b"\0none"));
                request::without_stream_flag(body, &mut key);
            }
            Body::OpenAiNative { body, path } => {
                key.part(path.as_bytes());
                key.part(body);
            }
            Body::Gemini { body, method } => {
                let method = if *method == GEMINI_SSE {
                    ":generateContent"
                } else {
                    method
                };
                key.part(method.as_bytes());
                key.part(body);
            }
        }
        Ok(key.finish())
    }

    /// Record the route this attempt takes in the request's audit entry.
    pub fn note_route(&self, req: &Request<'_>, stream: bool) {
        let mut e = req.audit.borrow_mut();
        e.provider = Some(self.provider.name());
        e.model_alias = self.alias.cloned();
        e.upstream_model = Some(Arc::clone(&self.upstream_model));
        e.key_source = Some(self.key.source.name());
        e.provider_key_id = Some(self.key.label.0.clone());
        e.provider_key_fingerprint = Some(self.key.label.1.clone());
        e.stream = Some(stream);
    }

    pub fn entry(
        &self,
        outcome: AttemptOutcome,
        status: Option<u16>,
        (n, sent_us): (usize, u64),
    ) -> AttemptEntry {
        AttemptEntry {
            provider: self.provider.name(),
            key_id: Arc::clone(&self.key.label.0),
            key_source: self.key.source.name(),
            outcome,
            status,
            n: n as u32,
            sent_us,
            head_us: crate::audit::now_us(),
        }
    }
}

/// The attempt whose response is the client's, that response, and when it was sent.
pub struct Winner<'s> {
    pub attempt: Attempt<'s>,
    pub exchange: crate::upstream::client::Exchange,
    pub sent_at: Instant,
}

/// Make the attempts in order until one gets an answer that is the client's (see the module
/// docs) and return it. Each attempt is recorded in the audit entry and the metrics.
pub async fn first_answer<'s>(
    shard: &Shard,
    req: &Request<'_>,
    attempts: Vec<Attempt<'s>>,
    stream: bool,
) -> Result<Winner<'s>> {
    let cfg = shard.fallback;
    let deadline = req.started + Duration::from_millis(cfg.deadline_ms);
    let open_for = Duration::from_millis(cfg.breaker_open_ms);
    let max_cool = Duration::from_millis(cfg.max_retry_after_ms);
    let total = attempts.len();
    for (i, a) in attempts.into_iter().enumerate() {
        let more = i + 1 < total && Instant::now() < deadline;
        let key = &a.key.label.0;
        // The last candidate is always tried: the client gets a real answer, not ours.
        if more && !shard.breakers.allows(key, Instant::now()) {
            shard.metrics.breaker_skips.inc();
            continue;
        }
        if i > 0 {
            a.note_route(req, stream);
        }
        let traceparent = req.trace.as_ref().map(|t| t.upstream(i));
        let request = a.request(req.state, req.body, traceparent.as_ref())?;
        let sent_at = Instant::now();
        let sent = (i, crate::audit::now_us());
        match send(&shard.upstream, a.origin, request).await {
            Err(e) => {
                let outcome = outcome_of(&e);
                note(req, &a, outcome, None, sent);
                count(shard, a.key.source, outcome);
                let now = Instant::now();
                shard
                    .breakers
                    .failure(key, now, cfg.breaker_failures, open_for, None);
                if more && now < deadline {
                    continue;
                }
                return Err(e);
            }
            Ok(exchange) => {
                let status = exchange.head.status;
                let now = Instant::now();
                if retryable_status(status) {
                    let cool = exchange
                        .head
                        .retry_after_s
                        .filter(|_| status == 429)
                        .map(|s| Duration::from_secs(u64::from(s)).min(max_cool));
                    shard
                        .breakers
                        .failure(key, now, cfg.breaker_failures, open_for, cool);
                } else {
                    shard.breakers.success(key);
                }
                let outcome = if (200..300).contains(&status) {
                    AttemptOutcome::Ok
                } else {
                    AttemptOutcome::Status
                };
                note(req, &a, outcome, Some(status), sent);
                count(shard, a.key.source, outcome);
                if retryable_status(status) && more && now < deadline {
                    // The body is left unread: the connection is closed, not pooled.
                    drop(exchange);
                    continue;
                }
                if i > 0 {
                    shard.metrics.fallbacks.inc();
                }
                return Ok(Winner {
                    attempt: a,
                    exchange,
                    sent_at,
                });
            }
        }
    }
    Err(Error::new(
        Kind::UpstreamConnect,
        "no provider could be reached for this request",
    ))
}

/// The cached answer as the winner, read back as if the first attempt's provider sent it.
pub fn replay<'s>(attempts: Vec<Attempt<'s>>, entry: &crate::cache::Entry) -> Result<Winner<'s>> {
    let attempt = attempts
        .into_iter()
        .next()
        .ok_or_else(|| Error::new(Kind::Internal, "a cache hit without a planned attempt"))?;
    Ok(Winner {
        attempt,
        exchange: crate::upstream::client::Exchange::replay(entry.event_stream, &entry.body),
        sent_at: Instant::now(),
    })
}

/// The routes a request may be answered by: its own, then its fallbacks (unknown aliases are
/// skipped; a snapshot only carries known ones).
pub fn routes<'s>(state: &'s ServingState, target: &'s RouteTarget) -> Vec<&'s RouteTarget> {
    let mut out = vec![target];
    for alias in &target.fallbacks {
        if let Some(t) = state.route(alias) {
            if !out.iter().any(|o| std::ptr::eq(*o, t)) {
                out.push(t);
            }
        }
    }
    out
}

/// Whether a provider status means "try the next key or provider".
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 401 | 403 | 429 | 500..=599)
}

/// How an upstream error before the response head is recorded.
pub fn outcome_of(e: &Error) -> AttemptOutcome {
    match e.kind {
        Kind::UpstreamConnect => AttemptOutcome::Connect,
        Kind::UpstreamTimeout => AttemptOutcome::Timeout,
        Kind::UpstreamClosed => AttemptOutcome::Closed,
        _ => AttemptOutcome::Protocol,
    }
}

/// Count an attempt in the metrics.
pub fn count(shard: &Shard, source: KeySource, outcome: AttemptOutcome) {
    let s = usize::from(source == KeySource::Pooled);
    shard.metrics.attempts[s][outcome as usize].inc();
}

/// Record an attempt in the request's audit entry: how it ended, and (`sent`) its place in the
/// plan and when it was sent.
pub fn note(
    req: &Request<'_>,
    a: &Attempt<'_>,
    outcome: AttemptOutcome,
    status: Option<u16>,
    sent: (usize, u64),
) {
    req.audit
        .borrow_mut()
        .attempts
        .push(a.entry(outcome, status, sent));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        for s in [401, 403, 429, 500, 502, 503, 529] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 400, 404, 413, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }
}
