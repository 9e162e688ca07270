//! A kept answer served in the other shape: a streamed request answered from an answer that was
//! kept whole, and a whole-answer request from a stream that was kept, in the provider's own wire
//! format — before the answer path translates it into the client's dialect, runs the response
//! guardrails and meters it, as it does for a live answer.
//!
//! A streamed and an unstreamed request for the same conversation are one entry (their keys
//! leave the stream flag and `stream_options` out, `attempt.rs`), so the answer kept is whichever
//! came last. The conversions mirror what the providers send: a kept stream becomes the body the
//! provider gives when not streaming (deltas joined as the official SDKs join them), and a kept
//! body becomes a short stream of the provider's own events (the whole text in one delta, usage
//! where the provider puts it). OpenAI's Responses API streams typed events around the whole
//! response: a body becomes those events, and a stream's last event carries the body.
//!
//! Anything these do not know — an event type, a malformed chunk, a stream without its end —
//! gives `None`, and the request is a miss: it is answered by the provider and kept again.
//! A conversion costs a parse and a write of the kept answer, only on a hit in the other shape.
//!
//! The kept bytes are a provider's, so they are untrusted: a stream made from a body is bounded
//! by [`limit`] (a body with a large member and many choices would otherwise be copied onto
//! every chunk), and the choices, candidates and indexed items joined are bounded in number (each
//! delta looks its item up among them).

mod anthropic;
mod gemini;
mod openai;
mod responses;

use std::sync::Arc;

use simd_json::prelude::*;
use simd_json::OwnedValue as Value;

use super::{Cache, Entry};

/// The provider wire formats whose answers can be kept in one shape and served in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions (OpenAI, Groq, DeepSeek).
    OpenAiChat,
    /// OpenAI's Responses API (`/responses` on OpenAI itself).
    OpenAiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini `generateContent` and `streamGenerateContent?alt=sse`.
    Gemini,
}

/// What a request expects back from the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// An event stream (`text/event-stream`) or one body.
    pub event_stream: bool,
    /// The format both shapes are in, when an answer kept in one can be served in the other.
    pub wire: Option<Wire>,
}

impl Cache {
    /// `entry` as a request that expects `shape` gets it: as kept, or converted into the other
    /// shape ([`reshape`]); `None` (a miss) when it cannot be. The conversion is this request's
    /// alone: the entry stays as it was kept.
    pub(super) fn shaped(&self, entry: Arc<Entry>, shape: Shape) -> Option<Arc<Entry>> {
        if entry.event_stream == shape.event_stream {
            return Some(entry);
        }
        let Some(body) = shape
            .wire
            .and_then(|wire| reshape(wire, entry.event_stream, &entry.body))
        else {
            self.metrics.reshape_failed.inc();
            return None;
        };
        self.metrics.reshaped.inc();
        Some(Arc::new(Entry {
            key: entry.key,
            project: Arc::clone(&entry.project),
            generation: entry.generation,
            event_stream: shape.event_stream,
            body: body.into(),
            filled: entry.filled,
            expires: entry.expires,
        }))
    }
}

/// `body` (an event stream when `event_stream`) in the other shape, or `None` when it cannot be
/// converted faithfully.
pub fn reshape(wire: Wire, event_stream: bool, body: &[u8]) -> Option<Vec<u8>> {
    match (wire, event_stream) {
        (Wire::OpenAiChat, false) => openai::to_stream(body),
        (Wire::OpenAiChat, true) => openai::to_body(body),
        (Wire::OpenAiResponses, false) => responses::to_stream(body),
        (Wire::OpenAiResponses, true) => responses::to_body(body),
        (Wire::Anthropic, false) => anthropic::to_stream(body),
        (Wire::Anthropic, true) => anthropic::to_body(body),
        (Wire::Gemini, false) => gemini::to_stream(body),
        (Wire::Gemini, true) => gemini::to_body(body),
    }
}

/// Choices (OpenAI `n` is at most 128) or candidates an answer may have.
const MAX_CHOICES: usize = 128;

/// Indexed items (tool calls) one joined array may hold.
const MAX_ITEMS: usize = 1024;

/// The most bytes a stream made from a body of `len` bytes may take: a few times the body
/// (each event repeats a little of it), never a multiple of it per choice.
fn limit(len: usize) -> usize {
    len.saturating_mul(8).saturating_add(64 << 10)
}

/// Parse one JSON document (a body or an event's data).
fn parse(bytes: &[u8]) -> Option<Value> {
    let mut copy = bytes.to_vec();
    simd_json::to_owned_value(&mut copy).ok()
}

/// Append one event: its name when the format names events, its data on one line.
fn event(out: &mut Vec<u8>, name: Option<&str>, data: &Value) {
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    // Writing into a Vec cannot fail; strings are escaped, so the data is one line.
    let _ = data.write(out);
    out.extend_from_slice(b"\n\n");
}

/// Join `delta` into `acc` as the official SDKs join streamed deltas: strings are appended
/// (`type` and `role` are set), objects joined member by member, arrays of objects that carry
/// an `index` joined element by element and other arrays extended; `null` changes nothing and
/// anything else replaces. `None`: an array grew past [`MAX_ITEMS`] indexed items.
/// The delta is read where it was parsed (a borrowed value): only what is new is copied.
fn join(acc: &mut simd_json::owned::Object, delta: &simd_json::borrowed::Object<'_>) -> Option<()> {
    use simd_json::BorrowedValue as Delta;
    for (k, d) in delta.iter() {
        let Some(a) = acc.get_mut(k.as_ref()) else {
            acc.insert(k.to_string(), Value::from(d.clone()));
            continue;
        };
        match (a, d) {
            (_, Delta::Static(simd_json::StaticNode::Null)) => {}
            (Value::String(a), Delta::String(d)) if k != "type" && k != "role" => a.push_str(d),
            (Value::Object(a), Delta::Object(d)) => join(a, d)?,
            (Value::Array(a), Delta::Array(d)) => {
                for item in d.iter() {
                    let index = item.get_u64("index");
                    let at = index.and_then(|i| {
                        a.iter()
                            .position(|x| x.get_u64("index") == Some(i) && x.is_object())
                    });
                    match (at, item.as_object()) {
                        (Some(at), Some(item)) => {
                            if let Some(slot) = a[at].as_object_mut() {
                                join(slot, item)?;
                            }
                        }
                        _ if index.is_some() && a.len() >= MAX_ITEMS => return None,
                        _ => a.push(Value::from(item.clone())),
                    }
                }
            }
            (a, d) => *a = Value::from(d.clone()),
        }
    }
    Some(())
}

#[cfg(test)]
mod tests;
