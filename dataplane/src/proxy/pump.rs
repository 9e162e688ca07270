//! The response pump for streamed answers: provider bytes → whole SSE events → (translated)
//! client chunks, written as soon as they are complete.
//!
//! The provider is read only after the previous client write has finished, so a slow client
//! slows the provider read (back-pressure) and memory stays bounded by one read plus one
//! partial event. A client that goes away ends the pump; the provider connection is then
//! closed, never pooled. A provider that breaks off gets the client an error event in its own
//! dialect and a clean end of the chunked body, never a hang.

use std::time::{Duration, Instant};

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::Dialect;

use crate::client::Client;
use crate::context::Request;
use crate::error::{Error, Kind};
use crate::guard::response::{ChunkOutcome, ResponseGuard};
use crate::http::respond::{self, BodyLen};
use crate::shard::Shard;
use crate::sse::EventFramer;
use crate::translate::StreamTranslator;
use crate::upstream::client::Exchange;

pub enum End {
    Complete,
    ClientGone,
    UpstreamFailed,
}

/// How one stream is carried to the client.
pub struct Stream<'g> {
    /// Passthrough, or the provider's events into OpenAI chunks.
    pub translator: StreamTranslator,
    /// The client's dialect (for error events).
    pub dialect: Dialect,
    /// When the request went to the provider (idle deadlines run from the last event).
    pub sent_at: Instant,
    pub guard: Option<&'g mut ResponseGuard>,
    /// Usage was asked for on the client's behalf (to meter the stream): its chunk is dropped.
    pub strip_usage: bool,
    /// The events as the client's route writes them.
    pub egress: Egress,
    /// Keep the provider's stream in the cache once it ends cleanly.
    pub cache: Option<crate::cache::Fill>,
}

/// The last step of every write: the events as they are, or as a Responses event stream.
pub enum Egress {
    /// The events as they are (chat chunks, or a native route's events).
    Same,
    /// Chat chunks rewritten as `/v1/responses` events.
    Responses(Box<crate::translate::responses::stream::Stream>),
    /// Chat chunks rewritten as Anthropic's events (a Messages request that took the chat path).
    Messages(Box<crate::translate::messages::stream::Stream>),
    /// OpenAI's own Responses events, as they are; what a broken stream's ending needs is kept
    /// on the way: the next sequence number and the `response.created` object.
    ResponsesApi {
        sequence: u64,
        created: Option<Vec<u8>>,
    },
}

impl Egress {
    /// Whole events for the client, as one chunk of the chunked body.
    fn write(&mut self, out: &mut Vec<u8>, events: &[u8]) {
        match self {
            Egress::Same => respond::chunk(out, events),
            Egress::Responses(s) => {
                let mut converted = Vec::with_capacity(events.len() * 2 + 256);
                s.events(events, &mut converted);
                respond::chunk(out, &converted);
            }
            Egress::Messages(s) => {
                let mut converted = Vec::with_capacity(events.len() * 2 + 256);
                s.events(events, &mut converted);
                if !converted.is_empty() {
                    respond::chunk(out, &converted);
                }
            }
            Egress::ResponsesApi { sequence, created } => {
                crate::translate::responses::ending::note_events(events, sequence, created);
                respond::chunk(out, events);
            }
        }
    }

    /// The stream broke off: the route's own error ending, when it has one.
    fn failed(&mut self, out: &mut Vec<u8>, e: &Error) -> bool {
        if let Egress::Messages(s) = self {
            let mut event = Vec::with_capacity(256);
            s.failed(&mut event, &e.to_string());
            respond::chunk(out, &event);
            return true;
        }
        let Egress::ResponsesApi { sequence, created } = self else {
            return false;
        };
        let mut events = Vec::with_capacity(512);
        crate::translate::responses::ending::failed_events(
            &mut events,
            created.as_deref(),
            sequence,
            (e.code(), &e.to_string()),
        );
        respond::chunk(out, &events);
        true
    }

    /// A guardrail stopped the stream: what the route writes to end it.
    fn stopped(&mut self, out: &mut Vec<u8>) {
        if let Egress::Messages(s) = self {
            let mut closing = Vec::new();
            s.stopped(&mut closing);
            respond::chunk(out, &closing);
        }
        if let Egress::Responses(s) = self {
            let mut closing = Vec::new();
            s.close(&mut closing);
            respond::chunk(out, &closing);
        }
    }
}

pub async fn run<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    exchange: &mut Exchange,
    req: &Request<'_>,
    stream: Stream<'_>,
) -> End {
    let Stream {
        mut translator,
        dialect,
        sent_at,
        mut guard,
        strip_usage,
        mut egress,
        cache,
    } = stream;
    // The provider's decoded bytes, kept while they fit in a cache entry.
    let mut recording = cache.map(|fill| shard.cache.record(fill));
    client.out.clear();
    {
        let added = req.headers.borrow();
        let extra: Vec<(&str, &[u8])> = added.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        respond::head(
            &mut client.out,
            200,
            respond::EVENT_STREAM,
            BodyLen::Chunked,
            req.id,
            req.keep_alive,
            &extra,
        );
    }
    if client.flush().await.is_err() {
        shard.metrics.stream_client_disconnects.inc();
        return End::ClientGone;
    }
    let mut framer = EventFramer::new(shard.limits.max_sse_event_bytes);
    // Grown to what the events need, no more: an idle stream holds its buffers for as long as
    // it lasts, and most events are a few hundred bytes.
    let mut data = Vec::new();
    let mut translated = Vec::new();
    // The first chunk's shape, for the chunks the response guard adds.
    let mut template: Option<Vec<u8>> = None;
    // A passthrough stream's closing event, held until the upstream ends (see below).
    let mut held: Vec<u8> = Vec::new();
    let idle: Duration = shard.timeouts.upstream_idle;
    loop {
        data.clear();
        let more = match exchange.next_data(&mut data, idle).await {
            Ok(more) => more,
            Err(e) => return fail(shard, client, &e, (dialect, &mut egress), req, sent_at).await,
        };
        req.audit.borrow_mut().answer_bytes += data.len() as u64;
        if let Some(r) = recording.as_mut() {
            r.push(&data);
        }
        if framer.push(&data).is_err() {
            let e = Error::new(
                Kind::UpstreamProtocol,
                "provider sent an event larger than the limit",
            );
            return fail(shard, client, &e, (dialect, &mut egress), req, sent_at).await;
        }
        let stopped;
        if translator.is_passthrough() {
            note_passthrough_usage(&framer, req, dialect);
            let mut events = framer.complete();
            let stripped;
            // Only the read that carries the usage chunk is rewritten; the rest pass as they are.
            if strip_usage && memchr::memmem::find(events, b"\"usage\":{").is_some() {
                stripped = without_usage_chunks(events);
                events = &stripped;
            }
            stopped = release(
                (shard, guard.as_deref_mut(), &mut egress),
                &mut template,
                &mut held,
                events,
                more,
                &mut client.out,
            );
        } else {
            translated.clear();
            let mut failure = None;
            for event in framer.events() {
                if let Err(e) = translator.event(event.name, &event.data, &mut translated) {
                    failure = Some(e);
                    break;
                }
            }
            stopped = release(
                (shard, guard.as_deref_mut(), &mut egress),
                &mut template,
                &mut held,
                &translated,
                more,
                &mut client.out,
            );
            if let Some(e) = failure {
                return fail(shard, client, &e, (dialect, &mut egress), req, sent_at).await;
            }
        }
        framer.take_complete();
        if stopped {
            // A guardrail stopped the answer: the stream ends here, the provider connection is
            // dropped.
            if let Some(g) = guard.as_deref() {
                req.note_verdicts(shard, &g.verdicts);
            }
            let _ = req
                .commit_response(shard, 200, Some("guardrail_blocked"), sent_at.elapsed())
                .await;
            egress.stopped(&mut client.out);
            client.out.extend_from_slice(respond::LAST_CHUNK);
            let _ = client.flush().await;
            return End::UpstreamFailed;
        }
        if !more {
            if translator.is_passthrough() {
                // Pass an unterminated tail on as is; then what the guard still holds.
                egress.write(&mut client.out, framer.pending());
                if let Some(g) = guard.as_deref_mut() {
                    let mut rest = Vec::new();
                    g.end_of_stream(&shard.guard, &shard.guard_scratch, &mut template, &mut rest);
                    egress.write(&mut client.out, &rest);
                }
            } else {
                translated.clear();
                translator.finish(&mut translated);
                match guard.as_deref_mut() {
                    Some(g) => {
                        let out = &mut client.out;
                        guarded_chunk((shard, g, &mut egress), &mut template, &translated, out);
                    }
                    None => egress.write(&mut client.out, &translated),
                }
                req.audit.borrow_mut().usage = translator.usage().map(Into::into);
            }
            if let Some(g) = guard.as_deref() {
                req.note_verdicts(shard, &g.verdicts);
            }
            // The record is in the file before the stream's last bytes go out.
            match req
                .commit_response(shard, 200, None, sent_at.elapsed())
                .await
            {
                Err(e) => error_event(&mut client.out, &e, (dialect, &mut egress)),
                // Kept before the client has the end, so its next request finds it.
                Ok(()) => {
                    let blocked = guard.as_deref().is_some_and(ResponseGuard::blocked_any);
                    let kept = |r: &crate::cache::Recording<'_>| {
                        r.fill()
                            .is_some_and(|f| super::answer::still_kept(shard, req, f))
                    };
                    if let Some(r) = recording.take().filter(|r| !blocked && kept(r)) {
                        r.finish();
                    }
                }
            }
            client.out.extend_from_slice(respond::LAST_CHUNK);
        }
        if !client.out.is_empty() && client.flush().await.is_err() {
            shard.metrics.stream_client_disconnects.inc();
            return End::ClientGone;
        }
        if !more {
            return End::Complete;
        }
    }
}

/// Pass OpenAI events through the response guard, as one client chunk. Returns true when a
/// guardrail stopped the answer.
fn guarded_chunk(
    (shard, g, egress): (&Shard, &mut ResponseGuard, &mut Egress),
    template: &mut Option<Vec<u8>>,
    events: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let mut filtered = Vec::with_capacity(events.len() + 64);
    let mut stopped = false;
    for e in crate::sse::events_in(events) {
        if g.filter_event(
            &shard.guard,
            &shard.guard_scratch,
            e.name,
            &e.data,
            template,
            &mut filtered,
        ) == ChunkOutcome::Blocked
        {
            stopped = true;
            break;
        }
    }
    egress.write(out, &filtered);
    stopped
}

/// Append whole `events` to `out` (through the guard when there is one), holding back a closing
/// event while the upstream has `more`: the pass that sees the upstream end sends its bytes only
/// after the response record is committed, so a client that saw `[DONE]` (or `message_stop`)
/// has a response on record. Returns whether the guard stopped the stream.
fn release(
    (shard, mut guard, egress): (&Shard, Option<&mut ResponseGuard>, &mut Egress),
    template: &mut Option<Vec<u8>>,
    held: &mut Vec<u8>,
    events: &[u8],
    more: bool,
    out: &mut Vec<u8>,
) -> bool {
    let (send, hold) = if more {
        split_closing(events)
    } else {
        (events, &[][..])
    };
    let mut stopped = false;
    for part in [&held[..], send] {
        if part.is_empty() || stopped {
            continue;
        }
        match guard.as_deref_mut() {
            Some(g) => stopped = guarded_chunk((shard, g, &mut *egress), template, part, out),
            None => egress.write(out, part),
        }
    }
    held.clear();
    held.extend_from_slice(hold);
    stopped
}

/// `events` without OpenAI's usage-only chunks (`"choices":[]` with `usage`): Warden asks
/// for usage on every stream to meter it, and drops the chunk again for a client that did not.
fn without_usage_chunks(events: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len());
    for e in crate::sse::events_in(events) {
        let usage_only = memchr::memmem::find(&e.data, b"\"choices\":[]").is_some()
            && memchr::memmem::find(&e.data, b"\"usage\":{").is_some();
        if !usage_only {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&e.data);
            out.extend_from_slice(b"\n\n");
        }
    }
    out
}

/// The events that end a Responses API stream (it has no `[DONE]`).
const RESPONSES_ENDINGS: [&[u8]; 3] = [
    b"event: response.completed",
    b"event: response.incomplete",
    b"event: response.failed",
];

/// `events` (whole SSE events) split before its last event when that event closes the stream:
/// OpenAI's `data: [DONE]`, Anthropic's `message_stop`, the Responses API's `response.completed`
/// (or `incomplete`, `failed`).
fn split_closing(events: &[u8]) -> (&[u8], &[u8]) {
    let body = events.trim_ascii_end();
    let start = body
        .windows(2)
        .rposition(|w| w == b"\n\n")
        .map_or(0, |i| i + 2);
    let last = &body[start..];
    let closing = last == b"data: [DONE]"
        || last == b"data:[DONE]"
        || last.starts_with(b"event: message_stop")
        || last.starts_with(b"event:message_stop")
        || RESPONSES_ENDINGS.iter().any(|e| last.starts_with(e));
    if closing {
        events.split_at(start)
    } else {
        (events, &[])
    }
}

/// Keep the usage a passed-through stream reports (OpenAI's `include_usage` chunk, Anthropic's
/// `message_start` and `message_delta`, Gemini's `usageMetadata`) for the audit record. Only
/// events that carry usage are parsed.
fn note_passthrough_usage(framer: &EventFramer, req: &Request<'_>, dialect: Dialect) {
    let key: &[u8] = if dialect == Dialect::Gemini {
        b"\"usageMetadata\":{"
    } else {
        b"\"usage\":{"
    };
    // Most reads carry no usage: one search over the bytes before looking at events.
    if memchr::memmem::find(framer.complete(), key).is_none() {
        return;
    }
    for event in framer.events() {
        if memchr::memmem::find(&event.data, key).is_some() {
            let mut e = req.audit.borrow_mut();
            let mut u = e
                .usage
                .map(crate::translate::Usage::from)
                .unwrap_or_default();
            if crate::translate::passthrough_usage(dialect, &event.data, &mut u) {
                e.usage = Some(u.into());
            }
        }
    }
}

/// End a started stream after a provider failure: what was already translated, an error event
/// in the client's dialect, then a clean end of the chunked body. The audit record comes first.
async fn fail<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    e: &Error,
    (dialect, egress): (Dialect, &mut Egress),
    req: &Request<'_>,
    sent_at: Instant,
) -> End {
    tracing::debug!(code = e.code(), "stream broken off: {e}");
    shard.metrics.stream_upstream_failures.inc();
    let _ = req
        .commit_response(shard, 200, Some(e.code()), sent_at.elapsed())
        .await;
    error_event(&mut client.out, e, (dialect, egress));
    client.out.extend_from_slice(respond::LAST_CHUNK);
    let _ = client.flush().await;
    End::UpstreamFailed
}

/// An error event in the client's dialect, as one chunk.
fn error_event(out: &mut Vec<u8>, e: &Error, (dialect, egress): (Dialect, &mut Egress)) {
    if egress.failed(out, e) {
        return;
    }
    let message = e.to_string();
    let mut event = Vec::with_capacity(256);
    match dialect {
        Dialect::OpenAi => {
            event.extend_from_slice(b"data: ");
            respond::error_body(&mut event, &message, e.error_type(), None, e.code());
        }
        Dialect::Anthropic => {
            event.extend_from_slice(b"event: error\ndata: ");
            respond::anthropic_error_body(&mut event, "api_error", &message);
        }
        Dialect::Gemini => {
            event.extend_from_slice(b"data: ");
            respond::gemini_error_body(&mut event, e.status(), &message);
        }
    }
    event.extend_from_slice(b"\n\n");
    egress.write(out, &event);
}

#[cfg(test)]
mod tests {
    use super::split_closing;

    #[test]
    fn only_a_closing_event_is_held() {
        let openai: &[u8] = b"data: {\"a\":1}\n\ndata: [DONE]\n\n";
        assert_eq!(
            split_closing(openai),
            (&b"data: {\"a\":1}\n\n"[..], &b"data: [DONE]\n\n"[..])
        );
        let anthropic: &[u8] =
            b"event: content_block_stop\ndata: {}\n\nevent: message_stop\ndata: {}\n\n";
        assert_eq!(
            split_closing(anthropic).1,
            b"event: message_stop\ndata: {}\n\n"
        );
        assert_eq!(split_closing(b"data: [DONE]\n\n").0, b"");
        let middle: &[u8] = b"data: {\"a\":1}\n\n";
        assert_eq!(split_closing(middle), (middle, &b""[..]));
        assert_eq!(split_closing(b""), (&b""[..], &b""[..]));
    }
}
