//! One client connection: read a request, answer it, repeat while keep-alive holds.
//!
//! `serve` is the request path as a straight line — head → body → dispatch (auth, route,
//! upstream, pump) → account — with pipelined requests answered strictly in order, because the
//! next head is only parsed after the previous response is written.
//!
//! Bounds: head size and header count (431), body size (413), head and body read timeouts and
//! the idle timeout between requests (408 / close), all from the shard's config. Framing errors
//! close the connection after their 400, since the next request's start is unknown.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use warden_shared::audit::Kind;
use warden_shared::catalog::Dialect;

use crate::audit::{now_us, Entry};
use crate::error::{Error, Kind as ErrorKind, Result};
use crate::http::body::ChunkedDecoder;
use crate::http::parse::{parse_request, Framing, Method, RequestHead};
use crate::http::respond;
use crate::metrics::Route;
use crate::proxy;
use crate::shard::Shard;

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
        let route = route_of(head.path.get(&buf));
        // Credentials right after the head: an unknown caller never gets its body read (nor a
        // 100 Continue). The route's handler looks the key up again (a hash and a map lookup).
        if let Some(header) = key_header(route) {
            let state = shard.state();
            if let Err(e) = crate::auth::authenticate(&state, &buf, &head, header) {
                drop(state);
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
                };
                let outcome = answer_error(shard, &mut io, &mut out, &req, route, e).await;
                shard.metrics.request(route, outcome.status, None);
                return;
            }
        }
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
    let state = shard.state();
    let caller = crate::auth::authenticate(
        &state,
        req.buf,
        req.head,
        crate::auth::KeyHeader::BearerOnly,
    )?;
    caller.note(&mut req.audit.borrow_mut());
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

/// Read until a whole request head is buffered. `Ok(None)`: the client closed (or went idle)
/// between requests, which needs no answer.
async fn read_head<S: AsyncReadRent>(
    shard: &Shard,
    io: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Option<RequestHead>> {
    let limits = shard.head_limits;
    let mut head_deadline = (!buf.is_empty()).then(|| Instant::now() + shard.timeouts.head);
    loop {
        if !buf.is_empty() {
            if let Some(head) = parse_request(buf, limits)? {
                return Ok(Some(head));
            }
        }
        let (wait, idle) = match head_deadline {
            Some(d) => (d.saturating_duration_since(Instant::now()), false),
            None => (shard.timeouts.idle, true),
        };
        match read_more(io, buf, wait, limits.max_head).await {
            Ok(0) => return Ok(None),
            Ok(_) => {
                head_deadline.get_or_insert_with(|| Instant::now() + shard.timeouts.head);
            }
            Err(ReadError::Timeout) if idle => return Ok(None),
            Err(ReadError::Timeout) => {
                return Err(Error::new(
                    ErrorKind::ClientTimeout,
                    "request head not received in time",
                ))
            }
            Err(ReadError::Io) => return Ok(None),
        }
    }
}

/// Read the body. Returns where it is (a range of `buf` for Content-Length bodies, or `None`
/// when it was decoded into `decoded`) and how many bytes of `buf` the request used.
async fn read_body<S: AsyncReadRent + AsyncWriteRent>(
    shard: &Shard,
    io: &mut S,
    buf: &mut Vec<u8>,
    head: &RequestHead,
    decoded: &mut Vec<u8>,
) -> Result<(Option<Range<usize>>, usize)> {
    let max = shard.limits.max_body_bytes;
    let start = head.len;
    // One deadline for the whole body, not per read: a client dripping a byte at a time cannot
    // hold the connection (and its buffer) for longer than `timeouts.body_ms`.
    let deadline = Instant::now() + shard.timeouts.body;
    let wait = || deadline.saturating_duration_since(Instant::now());
    let too_slow = || {
        Error::new(
            ErrorKind::ClientTimeout,
            "request body not received in time",
        )
    };
    let gone = || {
        Error::new(
            ErrorKind::Malformed,
            "connection closed before the body was complete",
        )
    };
    match head.framing {
        Framing::Empty | Framing::UntilClose => Ok((Some(start..start), start)),
        Framing::Length(n) => {
            if n > max as u64 {
                return Err(Error::new(
                    ErrorKind::BodyTooLarge,
                    "request body exceeds the size limit",
                ));
            }
            let end = start + n as usize;
            if buf.len() < end && head.expect_continue {
                send_continue(io).await?;
            }
            while buf.len() < end {
                match read_more(io, buf, wait(), end - buf.len()).await {
                    Ok(0) | Err(ReadError::Io) => return Err(gone()),
                    Ok(_) => {}
                    Err(ReadError::Timeout) => return Err(too_slow()),
                }
            }
            Ok((Some(start..end), end))
        }
        Framing::Chunked => {
            let mut decoder = ChunkedDecoder::new(max as u64);
            let mut pos = start;
            if head.expect_continue && buf.len() == start {
                send_continue(io).await?;
            }
            loop {
                pos += decoder.decode(&buf[pos..], decoded)?;
                if decoder.is_done() {
                    return Ok((None, pos));
                }
                // Chunk bytes after the head are decoded into `decoded` now: drop them so the
                // connection buffer stays bounded by the head limit plus one read.
                buf.truncate(start);
                pos = start;
                match read_more(io, buf, wait(), READ_CHUNK).await {
                    Ok(0) | Err(ReadError::Io) => return Err(gone()),
                    Ok(_) => {}
                    Err(ReadError::Timeout) => return Err(too_slow()),
                }
            }
        }
    }
}

async fn send_continue<S: AsyncWriteRent>(io: &mut S) -> Result<()> {
    let (res, _) = io.write_all(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]).await;
    res.map(|_| ())
        .map_err(|_| Error::new(ErrorKind::Malformed, "client went away"))
}

enum ReadError {
    Timeout,
    Io,
}

/// Append one read to `buf`, wanting room for at least `want` bytes (capped per read).
async fn read_more<S: AsyncReadRent>(
    io: &mut S,
    buf: &mut Vec<u8>,
    wait: Duration,
    want: usize,
) -> Result<usize, ReadError> {
    let room = want.clamp(1024, 64 * 1024).max(READ_CHUNK);
    if buf.capacity() - buf.len() < room {
        buf.reserve(room);
    }
    let (len, cap) = (buf.len(), buf.capacity());
    let slice = std::mem::take(buf).slice_mut(len..cap);
    match monoio::time::timeout(wait, io.read(slice)).await {
        Err(_) => Err(ReadError::Timeout),
        Ok((res, slice)) => {
            *buf = slice.into_inner();
            res.map_err(|_| ReadError::Io)
        }
    }
}
