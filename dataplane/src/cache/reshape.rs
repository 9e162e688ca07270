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
//! where the provider puts it).
//!
//! Anything these do not know — an event type, a malformed chunk, a stream without its end —
//! gives `None`, and the request is a miss: it is answered by the provider and kept again.
//! A conversion costs a parse and a write of the kept answer, only on a hit in the other shape.

mod anthropic;
mod gemini;
mod openai;

use simd_json::prelude::*;
use simd_json::OwnedValue as Value;

/// The provider wire formats whose answers can be kept in one shape and served in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions (OpenAI, Groq, DeepSeek).
    OpenAiChat,
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

/// `body` (an event stream when `event_stream`) in the other shape, or `None` when it cannot be
/// converted faithfully.
pub fn reshape(wire: Wire, event_stream: bool, body: &[u8]) -> Option<Vec<u8>> {
    match (wire, event_stream) {
        (Wire::OpenAiChat, false) => openai::to_stream(body),
        (Wire::OpenAiChat, true) => openai::to_body(body),
        (Wire::Anthropic, false) => anthropic::to_stream(body),
        (Wire::Anthropic, true) => anthropic::to_body(body),
        (Wire::Gemini, false) => gemini::to_stream(body),
        (Wire::Gemini, true) => gemini::to_body(body),
    }
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
/// anything else replaces.
fn join(acc: &mut simd_json::owned::Object, delta: &simd_json::owned::Object) {
    for (k, d) in delta.iter() {
        let Some(a) = acc.get_mut(k.as_str()) else {
            acc.insert(k.clone(), d.clone());
            continue;
        };
        match (a, d) {
            (_, Value::Static(simd_json::StaticNode::Null)) => {}
            (Value::String(a), Value::String(d)) if k != "type" && k != "role" => a.push_str(d),
            (Value::Object(a), Value::Object(d)) => join(a, d),
            (Value::Array(a), Value::Array(d)) => {
                for item in d.iter() {
                    let at = item.get_u64("index").and_then(|i| {
                        a.iter()
                            .position(|x| x.get_u64("index") == Some(i) && x.is_object())
                    });
                    match (at, item.as_object()) {
                        (Some(at), Some(item)) => {
                            if let Some(slot) = a[at].as_object_mut() {
                                join(slot, item);
                            }
                        }
                        _ => a.push(item.clone()),
                    }
                }
            }
            (a, d) => *a = d.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
