//! One client connection: read a request, answer it, repeat while keep-alive holds.
//!
//! `serve` reads each request — head → authenticate → body — hands it to its route's handler
//! (the proxied routes: [`proxy::handle`]) and accounts for it, with pipelined requests answered
//! strictly in order, because the next head is only parsed after the previous response is
//! written. The connection's I/O is [`Client`]; the per-request context is [`Request`].
//!
//! Bounds: head size and header count (431), body size (413), a deadline for the head and one for
//! the whole body, and the idle timeout between requests (408 / close), all from the shard's
//! config. Framing errors, and credentials refused before the body was read, close the
//! connection after their answer, since the next request's start is unknown; the client gets
//! the answer, then the end of the stream, and what it still sends is read and dropped for a
//! bounded time ([`Client::linger`]) so that no reset overtakes the answer.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent};

use warden_shared::catalog::Dialect;

use crate::audit::{now_us, Entry};
use crate::auth::authenticate;
use crate::client::{Client, READ_CHUNK};
use crate::context::{Outcome, Request};
use crate::error::{Error, Kind as ErrorKind, Result};
use crate::http::parse::{Method, RequestHead};
use crate::http::respond;
use crate::metrics::Route;
use crate::proxy::{self, Front};
use crate::shard::Shard;

pub async fn serve<S: AsyncReadRent + AsyncWriteRent>(shard: &Shard, io: S, peer: SocketAddr) {
    let mut client = Client::new(io);
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let mut decoded = Vec::new();
    let mut rid = Vec::with_capacity(64);
    loop {
        let head = match client.read_head(shard, &mut buf).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                rid.clear();
                shard.next_request_id(&mut rid);
                reject(shard, &mut client, &e, &rid, Route::Other).await;
                client.linger(&mut buf).await;
                return;
            }
        };
        let started = Instant::now();
        let inflight = shard.begin_request();
        request_id(shard, &head, &buf, &mut rid);
        let trace = crate::trace::Trace::start(shard.telemetry.as_deref(), &shard.ids, &head, &buf);
        let route = route_of(head.path.get(&buf), &head);
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
                    admission: Default::default(),
                };
                let outcome = answer_error(shard, &mut client, &req, route, e).await;
                shard.metrics.request(route, outcome.status, None);
                if shard.access_log {
                    let method = head.method.as_str();
                    crate::access::line(&audit.borrow(), method, outcome.status, started.elapsed());
                }
                drop(inflight);
                client.linger(&mut decoded).await;
                return;
            }
        };
        let (body, consumed) = match client.read_body(shard, &mut buf, &head, &mut decoded).await {
            Ok(b) => b,
            Err(e) => {
                reject(shard, &mut client, &e, &rid, route).await;
                drop(inflight);
                client.linger(&mut buf).await;
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
            admission: Default::default(),
        };
        let outcome = match dispatch(shard, &mut client, &req, route).await {
            Ok(outcome) => outcome,
            Err(e) => answer_error(shard, &mut client, &req, route, e).await,
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
        Route::ChatCompletions
        | Route::Models
        | Route::Embeddings
        | Route::Responses
        | Route::ResponsesInputTokens => Some(KeyHeader::BearerOnly),
        Route::Messages | Route::MessagesCountTokens | Route::AnthropicModels => {
            Some(KeyHeader::XApiKey)
        }
        Route::GenerateContent | Route::EmbedContent | Route::CountTokens | Route::GeminiModels => {
            Some(KeyHeader::XGoogApiKey)
        }
        Route::Other => None,
    }
}

/// Answer a request that failed before its response started, in the route's dialect, with its
/// audit record committed first.
async fn answer_error<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    req: &Request<'_>,
    route: Route,
    e: Error,
) -> Outcome {
    tracing::debug!(request_id = %String::from_utf8_lossy(req.id), code = e.code(), "request failed: {e}");
    let audit_refused = matches!(e.kind, ErrorKind::AuditFull | ErrorKind::AuditUnavailable);
    let e = if audit_refused {
        e
    } else {
        match req
            .commit_response(shard, e.status(), Some(e.code()), Duration::ZERO)
            .await
        {
            Ok(()) => e,
            Err(audit) => audit,
        }
    };
    let written = client
        .error(&e, route.dialect(), req.id, req.keep_alive)
        .await
        .is_ok();
    Outcome {
        status: e.status(),
        provider: None,
        upstream: Duration::ZERO,
        keep_alive: written && req.keep_alive && !e.closes_connection(),
    }
}

fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::OpenAi => "openai",
        Dialect::Anthropic => "anthropic",
        Dialect::Gemini => "gemini",
    }
}

/// The route's handler: the proxied routes all take [`proxy::handle`], one request path with the
/// route's dialect as its front end.
async fn dispatch<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    req: &Request<'_>,
    route: Route,
) -> Result<Outcome> {
    let front = match (route, req.head.method) {
        (Route::ChatCompletions, Method::Post) => Front::Chat,
        (Route::Embeddings, Method::Post) => Front::Embeddings,
        (Route::Responses, Method::Post) => Front::Responses,
        (Route::Messages, Method::Post) => Front::Messages,
        (Route::MessagesCountTokens, Method::Post) => Front::MessagesCountTokens,
        (Route::ResponsesInputTokens, Method::Post) => Front::ResponsesInputTokens,
        (Route::GenerateContent | Route::EmbedContent | Route::CountTokens, Method::Post) => {
            Front::generate(req)?
        }
        (Route::Models | Route::AnthropicModels | Route::GeminiModels, Method::Get) => {
            return models(shard, client, req, route).await
        }
        (
            Route::ChatCompletions
            | Route::Models
            | Route::AnthropicModels
            | Route::GeminiModels
            | Route::Messages
            | Route::GenerateContent
            | Route::Embeddings
            | Route::EmbedContent
            | Route::Responses
            | Route::MessagesCountTokens
            | Route::CountTokens
            | Route::ResponsesInputTokens,
            _,
        ) => {
            return Err(Error::new(
                ErrorKind::MethodNotAllowed,
                "method not allowed on this path",
            ))
        }
        (Route::Other, _) => return Err(Error::new(ErrorKind::UnknownRoute, "unknown path")),
    };
    // The guardrails read the body's bytes; compressed, it would go upstream unread.
    if req.head.content_coded {
        return Err(Error::new(
            ErrorKind::UnsupportedEncoding,
            "the request body is content-coded (Content-Encoding): send it uncompressed",
        ));
    }
    proxy::handle(shard, client, req, front).await
}

/// The models the caller's project can use, listed or looked up in the route's dialect
/// (`models.rs`).
async fn models<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    req: &Request<'_>,
    route: Route,
) -> Result<Outcome> {
    let caller = req.caller()?;
    let path = req.head.path.get(req.buf);
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    let id = ["/v1/models/", "/models/", "/v1beta/models/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix.as_bytes()))
        .map(|id| {
            std::str::from_utf8(id)
                .map_err(|_| Error::new(ErrorKind::ModelNotFound, "unknown model"))
        })
        .transpose()?;
    let mut body = Vec::new();
    crate::models::answer(
        shard,
        req.state,
        caller.project,
        route.dialect(),
        id,
        &mut body,
    )?;
    req.commit_response(shard, 200, None, Duration::ZERO)
        .await?;
    client.out.clear();
    respond::full(
        &mut client.out,
        200,
        respond::JSON,
        &body,
        req.id,
        req.keep_alive,
    );
    let ok = client.flush().await.is_ok();
    Ok(Outcome {
        status: 200,
        provider: None,
        upstream: Duration::ZERO,
        keep_alive: ok && req.keep_alive,
    })
}

/// The route a request takes: by its path, and for the model list and look-up, which every
/// dialect serves at `/v1/models`, by the key header its SDK sends (`x-api-key` or
/// `anthropic-version`: Anthropic's; `x-goog-api-key`: Gemini's).
fn route_of(path: &[u8], head: &RequestHead) -> Route {
    match path_route(path) {
        Route::Models if head.x_api_key.is_some() || head.anthropic_version.is_some() => {
            Route::AnthropicModels
        }
        Route::Models if head.x_goog_api_key.is_some() => Route::GeminiModels,
        route => route,
    }
}

fn path_route(path: &[u8]) -> Route {
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    match path {
        b"/v1/chat/completions" | b"/chat/completions" => Route::ChatCompletions,
        b"/v1/models" | b"/models" => Route::Models,
        b"/v1/messages" => Route::Messages,
        b"/v1/messages/count_tokens" => Route::MessagesCountTokens,
        b"/v1/embeddings" | b"/embeddings" => Route::Embeddings,
        b"/v1/responses" | b"/responses" => Route::Responses,
        b"/v1/responses/input_tokens" | b"/responses/input_tokens" => Route::ResponsesInputTokens,
        p if (p.starts_with(b"/v1beta/models/") || p.starts_with(b"/v1/models/"))
            && p.contains(&b':') =>
        {
            if p.ends_with(b":embedContent") || p.ends_with(b":batchEmbedContents") {
                Route::EmbedContent
            } else if p.ends_with(b":countTokens") {
                Route::CountTokens
            } else {
                Route::GenerateContent
            }
        }
        b"/v1beta/models" => Route::GeminiModels,
        p if p.starts_with(b"/v1beta/models/") => Route::GeminiModels,
        p if p.starts_with(b"/v1/models/") || p.starts_with(b"/models/") => Route::Models,
        _ => Route::Other,
    }
}

/// Answer an error that ends the connection (bad head, bad body, timeouts).
async fn reject<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    e: &Error,
    rid: &[u8],
    route: Route,
) {
    tracing::debug!(code = e.code(), "closing connection: {e}");
    shard.metrics.request(route, e.status(), None);
    let _ = client.error(e, route.dialect(), rid, false).await;
}

/// Use the client's `x-request-id` when Warden may repeat it (`Shard::may_repeat`: a short
/// token holding no key or personal data), else generate one. The id goes into the audit record,
/// the access log, traces and the answer's head.
fn request_id(shard: &Shard, head: &RequestHead, buf: &[u8], rid: &mut Vec<u8>) {
    rid.clear();
    match head.request_id.map(|s| s.get(buf)) {
        Some(given) if shard.may_repeat(given) => rid.extend_from_slice(given),
        _ => shard.next_request_id(rid),
    }
}
