//! One client connection: read a request, answer it, repeat while keep-alive holds.
//!
//! `serve` is the request path as a straight line — head → authenticate → body → dispatch
//! (route, guardrails, upstream, pump) → account — with pipelined requests answered strictly in
//! order, because the next head is only parsed after the previous response is written. Reading
//! the head and the body is `conn/read.rs`.
//!
//! Bounds: head size and header count (431), body size (413), a deadline for the head and one for
//! the whole body, and the idle timeout between requests (408 / close), all from the shard's
//! config. Framing errors, and credentials refused before the body was read, close the
//! connection after their answer, since the next request's start is unknown.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use warden_shared::audit::Kind;
use warden_shared::catalog::Dialect;

use crate::audit::{now_us, Entry};
use crate::auth::{authenticate, Caller};
use crate::error::{Error, Kind as ErrorKind, Result};
use crate::http::parse::{Method, RequestHead};
use crate::http::respond;
use crate::metrics::Route;
use crate::proxy;
use crate::shard::Shard;
use crate::state::ServingState;

mod read;

use read::{read_body, read_head};

/// Initial connection buffer; grows up to the head limit plus the body limit.
const READ_CHUNK: usize = 8 * 1024;

/// A request as handlers see it: the head's offsets, the buffer they point into, and the body.
pub struct Request<'a> {
    pub head: &'a RequestHead,
    pub buf: &'a [u8],
    pub body: &'a [u8],
    pub id: &'a [u8],
    pub keep_alive: bool,
    pub peer: SocketAddr,
    /// When the head was complete.
    pub started: Instant,
    /// The audit entry, filled in by the steps that learn something (auth, routing, upstream).
    pub audit: &'a RefCell<Entry>,
    /// Headers Warden adds to the answer (the route taken, a budget warning); at most a few.
    pub headers: RefCell<Vec<(&'static str, Vec<u8>)>>,
    /// The snapshot this request started with: it keeps it to the end, whatever is swapped in.
    pub state: &'a Rc<ServingState>,
    /// Who is asking, authenticated right after the head (`None` on routes without a key).
    pub caller: Option<Caller<'a>>,
    /// The request's place in a trace (`[telemetry]`, or a client's `traceparent`).
    pub trace: Option<crate::trace::Trace>,
}

impl Request<'_> {
    /// The authenticated caller of a route that needs a key.
    pub fn caller(&self) -> Result<&Caller<'_>> {
        self.caller.as_ref().ok_or(Error::new(
            ErrorKind::Internal,
            "a keyed route without an authenticated caller",
        ))
    }
}

/// What a handler did, for accounting.
pub struct Outcome {
    pub status: u16,
    pub provider: Option<warden_shared::catalog::Provider>,
    /// Time spent waiting on the provider.
    pub upstream: Duration,
    /// False when the response could not be completed cleanly (the connection must close).
    pub keep_alive: bool,
}

pub async fn serve<S: AsyncReadRent + AsyncWriteRent>(shard: &Shard, mut io: S, peer: SocketAddr) {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let mut out = Vec::with_capacity(4096);
    let mut decoded = Vec::new();
    let mut rid = Vec::with_capacity(64);
    loop {
        let head = match read_head(shard, &mut io, &mut buf).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                rid.clear();
                shard.next_request_id(&mut rid);
                reject(shard, &mut io, &mut out, &e, &rid, Route::Other).await;
                return;
            }
        };
        let started = Instant::now();
        let _inflight = shard.begin_request();
        request_id(shard, &head, &buf, &mut rid);
        let trace = crate::trace::Trace::start(shard, &head, &buf);
        let route = route_of(head.path.get(&buf));
        // Credentials right after the head: an unknown caller never gets its body read (nor a
        // 100 Continue). The request keeps this snapshot and this caller to its end.
        let state = shard.state();
        let caller = match key_header(route).map(|h| authenticate(&state, &buf, &head, h)) {
            None => None,
            Some(Ok(caller)) => Some(caller),
            Some(Err(e)) => {
                let audit = RefCell::new(audit_entry(&rid, peer, route));
                let req = Request {
                    head: &head,
                    buf: &buf,
                    body: &[],
                    id: &rid,
                    // The body was not read: the connection cannot carry another request.
                    keep_alive: false,
                    peer,
                    started,
                    audit: &audit,
                    headers: RefCell::new(Vec::new()),
                    state: &state,
                    caller: None,
                    trace,
                };
                let outcome = answer_error(shard, &mut io, &mut out, &req, route, e).await;
                shard.metrics.request(route, outcome.status, None);
                if shard.access_log {
                    let method = head.method.as_str();
                    crate::access::line(&audit.borrow(), method, outcome.status, started.elapsed());
                }
                return;
            }
        };
        let (body, consumed) = match read_body(shard, &mut io, &mut buf, &head, &mut decoded).await
        {
            Ok(b) => b,
            Err(e) => {
                reject(shard, &mut io, &mut out, &e, &rid, route).await;
                return;
            }
        };
        // A HEAD answer carries a body here (errors only): close after it so the client cannot
        // mistake that body for the next response.
        let keep_alive = head.keep_alive && !shard.draining.get() && head.method != Method::Head;
        let body: &[u8] = match &body {
            Some(range) => &buf[range.clone()],
            None => &decoded,
        };
        let audit = RefCell::new(audit_entry(&rid, peer, route));
        if let Some(caller) = &caller {
            caller.note(&mut audit.borrow_mut());
        }
        let req = Request {
            head: &head,
            buf: &buf,
            body,
            id: &rid,
            keep_alive,
            peer,
            started,
            audit: &audit,
            headers: RefCell::new(Vec::new()),
            state: &state,
            caller,
            trace,
        };
        let outcome = match dispatch(shard, &mut io, &mut out, &req, route).await {
            Ok(outcome) => outcome,
            Err(e) => answer_error(shard, &mut io, &mut out, &req, route, e).await,
        };
        let total = started.elapsed();
        shard
            .metrics
            .request(route, outcome.status, outcome.provider);
        shard
            .metrics
            .answered(&audit.borrow(), outcome.status, &state.billing);
        if let (Some(t), Some(trace)) = (&shard.telemetry, &trace) {
            let method = head.method.as_str();
            crate::trace::finish(t, trace, &audit.borrow(), method, outcome.status);
        }
        if shard.access_log {
            crate::access::line(&audit.borrow(), head.method.as_str(), outcome.status, total);
        }
        shard
            .metrics
            .overhead
            .observe_us(total.saturating_sub(outcome.upstream).as_micros() as u64);
        if !outcome.keep_alive {
            return;
        }
        buf.drain(..consumed);
        decoded.clear();
    }
}

/// A request's audit entry as the head tells it; the steps after fill in the rest.
fn audit_entry(rid: &[u8], peer: SocketAddr, route: Route) -> Entry {
    Entry {
        request_id: Some(String::from_utf8_lossy(rid).into()),
        received_us: now_us(),
        client: Some(peer),
        dialect: Some(dialect_name(route.dialect())),
        route: Some(route.name()),
        ..Entry::default()
    }
}

/// Where a route takes the Warden key from (`None`: no key needed, or no such route).
fn key_header(route: Route) -> Option<crate::auth::KeyHeader> {
    use crate::auth::KeyHeader;
    match route {
        Route::ChatCompletions | Route::Models => Some(KeyHeader::BearerOnly),
        Route::Messages => Some(KeyHeader::XApiKey),
        Route::GenerateContent => Some(KeyHeader::XGoogApiKey),
        Route::Other => None,
    }
}

/// Answer a request that failed before its response started, in the route's dialect, with its
/// audit record committed first.
async fn answer_error<S: AsyncWriteRent>(
    shard: &Shard,
    io: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
    route: Route,
    e: Error,
) -> Outcome {
    tracing::debug!(request_id = %String::from_utf8_lossy(req.id), code = e.code(), "request failed: {e}");
    let audit_refused = matches!(e.kind, ErrorKind::AuditFull | ErrorKind::AuditUnavailable);
    let e = if audit_refused {
        e
    } else {
        match commit_response(shard, req, e.status(), Some(e.code()), Duration::ZERO).await {
            Ok(()) => e,
            Err(audit) => audit,
        }
    };
    out.clear();
    respond::error_in(out, &e, route.dialect(), req.id, req.keep_alive);
    let written = flush(io, out).await.is_ok();
    Outcome {
        status: e.status(),
        provider: None,
        upstream: Duration::ZERO,
        keep_alive: written && req.keep_alive && !e.closes_connection(),
    }
}

/// Put the request's `response` audit record in the shard's ring: when this returns `Ok` the
/// record survives a `kill -9` (and, with `durability = "always"`, a power loss), so the
/// response's last bytes may go out. `Err` is the audit log's refusal (503).
pub async fn commit_response(
    shard: &Shard,
    req: &Request<'_>,
    status: u16,
    error: Option<&'static str>,
    upstream: Duration,
) -> Result<()> {
    let Some(audit) = &shard.audit else {
        return Ok(());
    };
    let put = {
        let mut e = req.audit.borrow_mut();
        e.kind = Kind::Response;
        e.status = Some(status);
        e.error = error;
        estimate_missing_usage(shard, req, &mut e, status);
        let total = req.started.elapsed();
        e.overhead_us = Some(total.saturating_sub(upstream).as_micros() as u64);
        if !upstream.is_zero() {
            e.upstream_us = Some(upstream.as_micros() as u64);
        }
        audit.put(&e)
    };
    audit
        .settle(put, true)
        .await
        .inspect_err(|_| shard.metrics.audit_rejected.inc())
}

/// A provider that answered without usage (some ignore `stream_options.include_usage`, a
/// stream can end early) is still metered: from the bytes, a token per four in each direction,
/// and the record says it is an estimate. Limits, billing and pooled-key cost recovery see it.
fn estimate_missing_usage(shard: &Shard, req: &Request<'_>, e: &mut Entry, status: u16) {
    if e.usage.is_some() || e.provider.is_none() || !(200..300).contains(&status) {
        return;
    }
    let tokens = |bytes: u64| bytes.div_ceil(4);
    e.usage = Some(warden_shared::audit::Usage {
        input_tokens: tokens(req.body.len() as u64),
        output_tokens: tokens(e.answer_bytes),
        cached_tokens: 0,
        reasoning_tokens: 0,
    });
    e.usage_estimated = true;
    shard.metrics.usage_estimated.inc();
}

/// Put the request's `request` audit record in the shard's ring (before it is forwarded).
pub async fn audit_request(shard: &Shard, req: &Request<'_>) -> Result<()> {
    let Some(audit) = &shard.audit else {
        return Ok(());
    };
    let put = {
        let mut e = req.audit.borrow_mut();
        e.kind = Kind::Request;
        audit.put(&e)
    };
    audit
        .settle(put, false)
        .await
        .inspect_err(|_| shard.metrics.audit_rejected.inc())
}

fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::OpenAi => "openai",
        Dialect::Anthropic => "anthropic",
        Dialect::Gemini => "gemini",
    }
}

async fn dispatch<S: AsyncWriteRent>(
    shard: &Shard,
    io: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
    route: Route,
) -> Result<Outcome> {
    let method = req.head.method;
    match (route, method) {
        (Route::ChatCompletions, Method::Post) => {
            proxy::chat_completions(shard, io, out, req).await
        }
        (Route::Models, Method::Get) => models(shard, io, out, req).await,
        (Route::Messages, Method::Post) => {
            proxy::native::anthropic_messages(shard, io, out, req).await
        }
        (Route::GenerateContent, Method::Post) => {
            proxy::native::gemini_generate(shard, io, out, req).await
        }
        (Route::ChatCompletions | Route::Models | Route::Messages | Route::GenerateContent, _) => {
            Err(Error::new(
                ErrorKind::MethodNotAllowed,
                "method not allowed on this path",
            ))
        }
        (Route::Other, _) => Err(Error::new(ErrorKind::UnknownRoute, "unknown path")),
    }
}

/// `GET /v1/models`: the aliases the caller's project has provider keys for.
async fn models<S: AsyncWriteRent>(
    shard: &Shard,
    io: &mut S,
    out: &mut Vec<u8>,
    req: &Request<'_>,
) -> Result<Outcome> {
    let caller = req.caller()?;
    commit_response(shard, req, 200, None, Duration::ZERO).await?;
    out.clear();
    respond::full(
        out,
        200,
        respond::JSON,
        &caller.project.models_json,
        req.id,
        req.keep_alive,
    );
    let ok = flush(io, out).await.is_ok();
    Ok(Outcome {
        status: 200,
        provider: None,
        upstream: Duration::ZERO,
        keep_alive: ok && req.keep_alive,
    })
}

fn route_of(path: &[u8]) -> Route {
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    match path {
        b"/v1/chat/completions" | b"/chat/completions" => Route::ChatCompletions,
        b"/v1/models" | b"/models" => Route::Models,
        b"/v1/messages" => Route::Messages,
        p if (p.starts_with(b"/v1beta/models/") || p.starts_with(b"/v1/models/"))
            && p.contains(&b':') =>
        {
            Route::GenerateContent
        }
        _ => Route::Other,
    }
}

/// Answer an error that ends the connection (bad head, bad body, timeouts).
async fn reject<S: AsyncWriteRent>(
    shard: &Shard,
    io: &mut S,
    out: &mut Vec<u8>,
    e: &Error,
    rid: &[u8],
    route: Route,
) {
    tracing::debug!(code = e.code(), "closing connection: {e}");
    shard.metrics.request(route, e.status(), None);
    out.clear();
    respond::error_in(out, e, route.dialect(), rid, false);
    let _ = flush(io, out).await;
}

/// Write `out` to the client and clear it.
pub async fn flush<S: AsyncWriteRent>(io: &mut S, out: &mut Vec<u8>) -> std::io::Result<()> {
    let (res, mut buf) = io.write_all(std::mem::take(out)).await;
    buf.clear();
    *out = buf;
    res.map(|_| ())
}

/// Use the client's `x-request-id` when it is a sane token, else generate one.
fn request_id(shard: &Shard, head: &RequestHead, buf: &[u8], rid: &mut Vec<u8>) {
    rid.clear();
    if let Some(given) = head.request_id.map(|s| s.get(buf)) {
        let sane = !given.is_empty()
            && given.len() <= 128
            && given
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if sane {
            rid.extend_from_slice(given);
            return;
        }
    }
    shard.next_request_id(rid);
}
