//! Dialect translation between the OpenAI chat format clients speak and the providers' own:
//! requests out ([`anthropic::request`], [`gemini::request`]), responses back, whole or as a
//! stream of events ([`StreamTranslator`]).
//!
//! Position in the request path: between routing and the upstream client on the way out, and
//! inside the response pump on the way back. Streams are translated event by event as they
//! arrive: one provider event yields at most a few OpenAI chunks, written immediately; nothing
//! is held back until the end. Unknown event types are ignored, `ping` is dropped.
//!
//! The mapping choices (finish reasons, usage, tool-call ids, defaults) are documented in
//! docs/providers.md.

pub mod anthropic;
pub mod embeddings;
pub mod gemini;
pub mod json;
pub mod messages;
pub mod openai_in;
pub mod responses;

use std::io::Write;

use crate::error::{Error, Kind, Result};
use crate::http::respond::json_string;
use json::Obj;

/// What every translated response needs to say about itself.
#[derive(Clone)]
pub struct Meta {
    /// `chatcmpl-…` id (the provider's id when it has one).
    pub id: String,
    /// The alias the client asked for; translated responses report it as `model`.
    pub model: Box<str>,
    pub created: u64,
    /// `stream_options.include_usage` from the client.
    pub include_usage: bool,
    /// Anthropic: the request asked for JSON (`response_format`), which went out as a forced
    /// call of [`anthropic::JSON_TOOL`]; that call's input is the answer's content.
    pub json_tool: bool,
    /// Pass the model's reasoning on (`reasoning_content`, `thinking_blocks`): not while
    /// response guardrails read the answer, because they cannot read or redact it.
    pub show_reasoning: bool,
}

/// Token usage in OpenAI's terms.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Everything the model read, cached or not.
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub reasoning: u64,
}

impl From<warden_shared::audit::Usage> for Usage {
    fn from(u: warden_shared::audit::Usage) -> Usage {
        Usage {
            prompt: u.input_tokens,
            completion: u.output_tokens,
            cached: u.cached_tokens,
            reasoning: u.reasoning_tokens,
        }
    }
}

impl From<Usage> for warden_shared::audit::Usage {
    fn from(u: Usage) -> warden_shared::audit::Usage {
        warden_shared::audit::Usage {
            input_tokens: u.prompt,
            output_tokens: u.completion,
            cached_tokens: u.cached,
            reasoning_tokens: u.reasoning,
        }
    }
}

impl Usage {
    pub fn write(&self, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\
             \"prompt_tokens_details\":{{\"cached_tokens\":{}}},\
             \"completion_tokens_details\":{{\"reasoning_tokens\":{}}}}}",
            self.prompt,
            self.completion,
            self.prompt + self.completion,
            self.cached,
            self.reasoning
        );
    }
}

/// Translates one provider's stream into OpenAI chunks.
pub enum StreamTranslator {
    /// The provider already speaks the client's dialect: events go through untouched.
    Passthrough,
    Anthropic(Box<anthropic::Stream>),
    Gemini(Box<gemini::Stream>),
}

impl StreamTranslator {
    pub fn is_passthrough(&self) -> bool {
        matches!(self, StreamTranslator::Passthrough)
    }

    /// One complete provider event (its `event:` name, if any, and its data) → zero or more
    /// OpenAI SSE events appended to `out`. Returns false once the stream is finished.
    pub fn event(&mut self, name: Option<&[u8]>, data: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        match self {
            StreamTranslator::Passthrough => Ok(true),
            StreamTranslator::Anthropic(s) => s.event(name, data, out),
            StreamTranslator::Gemini(s) => s.event(data, out),
        }
    }

    /// Token usage seen so far (translated streams).
    pub fn usage(&self) -> Option<Usage> {
        match self {
            StreamTranslator::Passthrough => None,
            StreamTranslator::Anthropic(s) => Some(s.usage()),
            StreamTranslator::Gemini(s) => Some(s.usage()),
        }
    }

    /// The provider's stream ended cleanly: close the OpenAI stream (usage chunk, `[DONE]`).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            StreamTranslator::Passthrough => {}
            StreamTranslator::Anthropic(s) => s.finish(out),
            StreamTranslator::Gemini(s) => s.finish(out),
        }
    }
}

/// One `chat.completion.chunk` event with a single choice; `delta` writes the delta's fields.
pub fn chunk(
    out: &mut Vec<u8>,
    meta: &Meta,
    delta: impl FnOnce(&mut Obj<'_>),
    finish: Option<&str>,
) {
    chunk_of(out, meta, 0, delta, finish);
}

/// [`chunk`] for the choice at `index` (a request for several choices).
pub fn chunk_of(
    out: &mut Vec<u8>,
    meta: &Meta,
    index: usize,
    delta: impl FnOnce(&mut Obj<'_>),
    finish: Option<&str>,
) {
    out.extend_from_slice(b"data: ");
    let mut c = chunk_head(out, meta);
    {
        let choices = c.key("choices");
        let _ = write!(choices, "[{{\"index\":{index},\"delta\":");
        let mut d = Obj::new(choices);
        delta(&mut d);
        d.end();
        choices.extend_from_slice(b",\"finish_reason\":");
        match finish {
            Some(f) => json_string(choices, f),
            None => choices.extend_from_slice(b"null"),
        }
        choices.extend_from_slice(b"}]");
    }
    if meta.include_usage {
        c.raw("usage", b"null");
    }
    c.end();
    out.extend_from_slice(b"\n\n");
}

/// The `include_usage` chunk: no choices, the usage.
pub fn usage_chunk(out: &mut Vec<u8>, meta: &Meta, usage: &Usage) {
    out.extend_from_slice(b"data: ");
    let mut c = chunk_head(out, meta);
    c.raw("choices", b"[]");
    usage.write(c.key("usage"));
    c.end();
    out.extend_from_slice(b"\n\n");
}

pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// Close a translated stream once: the `include_usage` chunk if asked for, then `[DONE]`.
pub fn close_stream(finished: &mut bool, meta: &Meta, usage: &Usage, out: &mut Vec<u8>) {
    if std::mem::replace(finished, true) {
        return;
    }
    if meta.include_usage {
        usage_chunk(out, meta, usage);
    }
    out.extend_from_slice(DONE);
}

/// A `tool_calls` delta: the call's index, its id and name when it starts, argument text.
pub fn tool_delta(d: &mut Obj<'_>, index: usize, start: Option<(&str, &str)>, arguments: &str) {
    let mut arr = json::Arr::new(d.key("tool_calls"));
    let mut call = Obj::new(arr.item());
    call.num("index", index as u64);
    if let Some((id, _)) = start {
        call.str("id", id);
        call.str("type", "function");
    }
    let mut f = Obj::new(call.key("function"));
    if let Some((_, name)) = start {
        f.str("name", name);
    }
    f.str("arguments", arguments);
    f.end();
    call.end();
    arr.end();
}

fn chunk_head<'a>(out: &'a mut Vec<u8>, meta: &Meta) -> Obj<'a> {
    let mut c = Obj::new(out);
    c.str("id", &meta.id);
    c.str("object", "chat.completion.chunk");
    c.num("created", meta.created);
    c.str("model", &meta.model);
    c
}

/// An OpenAI-style error event mid-stream.
pub fn error_event(out: &mut Vec<u8>, message: &str, error_type: &str, code: &str) {
    out.extend_from_slice(b"data: ");
    crate::http::respond::error_body(out, message, error_type, None, code);
    out.extend_from_slice(b"\n\n");
}

/// A provider event that is not the JSON it should be.
pub fn bad_event() -> Error {
    Error::new(
        Kind::UpstreamProtocol,
        "provider sent an event that is not valid JSON",
    )
}

/// The `usage` object of an OpenAI response or chunk, if it has one. Only that object is
/// parsed (found as the last `"usage":{`), not the whole body.
pub fn openai_usage(json: &[u8]) -> Option<Usage> {
    use simd_json::prelude::*;
    let key = memchr::memmem::rfind(json, b"\"usage\":{")?;
    let start = key + b"\"usage\":".len();
    let end = crate::route::json_value_end(json, start);
    let mut copy = json.get(start..end)?.to_vec();
    let u = simd_json::to_borrowed_value(&mut copy).ok()?;
    // Chat completions' names, or the Responses API's (`input_tokens`, `output_tokens`).
    let first = |a: &str, b: &str| u.get(a).or_else(|| u.get(b));
    let n = |a: &str, b: &str| first(a, b).and_then(|x| x.as_u64()).unwrap_or(0);
    let detail = |a: &str, b: &str, k: &str| {
        first(a, b)
            .and_then(|d| d.get(k))
            .and_then(|x| x.as_u64())
            .unwrap_or(0)
    };
    u.as_object()?;
    Some(Usage {
        prompt: n("prompt_tokens", "input_tokens"),
        completion: n("completion_tokens", "output_tokens"),
        cached: detail(
            "prompt_tokens_details",
            "input_tokens_details",
            "cached_tokens",
        ),
        reasoning: detail(
            "completion_tokens_details",
            "output_tokens_details",
            "reasoning_tokens",
        ),
    })
}

/// Usage in an answer or a stream event passed through in the provider's own dialect, in
/// OpenAI's terms, merged into `into` (Anthropic streams report input and output tokens in
/// different events). Returns whether the JSON carried usage.
pub fn passthrough_usage(
    dialect: warden_shared::catalog::Dialect,
    json: &[u8],
    into: &mut Usage,
) -> bool {
    use simd_json::prelude::*;
    use warden_shared::catalog::Dialect;
    if dialect == Dialect::OpenAi {
        return match openai_usage(json) {
            Some(u) => {
                *into = u;
                true
            }
            None => false,
        };
    }
    let key: &[u8] = if dialect == Dialect::Gemini {
        b"\"usageMetadata\":{"
    } else {
        b"\"usage\":{"
    };
    let Some(at) = memchr::memmem::rfind(json, key) else {
        return false;
    };
    let start = at + key.len() - 1;
    let end = crate::route::json_value_end(json, start);
    let Some(mut copy) = json.get(start..end).map(<[u8]>::to_vec) else {
        return false;
    };
    let Ok(u) = simd_json::to_borrowed_value(&mut copy) else {
        return false;
    };
    if u.as_object().is_none() {
        return false;
    }
    match dialect {
        Dialect::Anthropic => anthropic::usage_of(&u, into),
        _ => gemini::usage_of(&u, into),
    }
    true
}

/// Seconds since the epoch, for `created`.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "translate/parameter_tests.rs"]
mod parameter_tests;
