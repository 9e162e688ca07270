//! Gemini's answers in OpenAI's terms: each candidate is a choice (numbered by its `index`), its
//! text parts the content, its thought parts the reasoning, its `functionCall` parts the tool
//! calls; the whole answer ([`response`]) and what a stream's events share with it.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::signature;
use super::MAX_CANDIDATES;
use crate::error::Result;
use crate::translate::json::{Arr, Obj};
use crate::translate::openai_in as oai;
use crate::translate::{bad_event, Meta, Usage};

/// One candidate of an answer or a stream's event, read as the choice it becomes.
pub(super) struct Candidate<'v> {
    /// The choice's index: the candidate's `index` (absent: its place in the list, which is
    /// how the API leaves out a zero).
    pub index: usize,
    parts: &'v [Value<'v>],
    /// Why it ended; a prompt blocked before any candidate reads as a safety stop of choice 0.
    pub finish: Option<&'v str>,
}

impl<'v> Candidate<'v> {
    /// The text of the thought parts.
    pub fn thoughts(&self) -> impl Iterator<Item = &'v str> {
        self.parts
            .iter()
            .filter(|p| is_thought(p))
            .filter_map(|p| oai::str_field(p, "text"))
    }

    /// The parts that are not thoughts.
    pub fn answer_parts(&self) -> impl Iterator<Item = &'v Value<'v>> {
        self.parts.iter().filter(|p| !is_thought(p))
    }
}

fn is_thought(p: &Value<'_>) -> bool {
    p.get("thought").and_then(|t| t.as_bool()) == Some(true)
}

/// The candidates of a response (or of one streamed event), in the order given. A candidate
/// numbered past what Gemini can answer is the provider's protocol error.
pub(super) fn candidates<'v>(v: &'v Value<'v>) -> Result<Vec<Candidate<'v>>> {
    let Some(list) = v.get("candidates").and_then(|c| c.as_array()) else {
        // No candidates: the prompt itself may have been blocked.
        let blocked = v
            .get("promptFeedback")
            .and_then(|f| oai::str_field(f, "blockReason"))
            .is_some();
        return Ok(blocked
            .then_some(Candidate {
                index: 0,
                parts: &[],
                finish: Some("SAFETY"),
            })
            .into_iter()
            .collect());
    };
    list.iter()
        .enumerate()
        .map(|(at, c)| {
            let index = match c.get("index") {
                Some(i) => i.as_u64().ok_or_else(bad_event)?,
                None => at as u64,
            };
            if index >= MAX_CANDIDATES {
                return Err(bad_event());
            }
            let parts = c
                .get("content")
                .and_then(|c| c.get("parts"))
                .and_then(|p| p.as_array())
                .map(|p| p.as_slice())
                .unwrap_or_default();
            Ok(Candidate {
                index: index as usize,
                parts,
                finish: oai::str_field(c, "finishReason"),
            })
        })
        .collect()
}

/// The id of a choice's `call`-th tool call: `call_{prefix}_{call}` for the first choice (as
/// with one choice), `call_{prefix}_{choice}_{call}` for the others, so no two are alike.
pub(super) fn call_id(prefix: &str, choice: usize, call: usize, part: &Value<'_>) -> String {
    let id = match choice {
        0 => format!("call_{prefix}_{call}"),
        _ => format!("call_{prefix}_{choice}_{call}"),
    };
    signature::seal(id, part)
}

/// Gemini `finishReason` → OpenAI `finish_reason`.
pub fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

pub fn usage_of(u: &Value<'_>, into: &mut Usage) {
    let n = |k: &str| u.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let thoughts = n("thoughtsTokenCount");
    into.prompt = n("promptTokenCount");
    into.completion = n("candidatesTokenCount") + thoughts;
    into.reasoning = thoughts;
    into.cached = n("cachedContentTokenCount");
}

/// Write a function call's arguments as OpenAI's JSON text.
pub(super) fn args_text(call: &Value<'_>) -> String {
    let mut args = Vec::new();
    match call.get("args") {
        Some(a) => crate::translate::json::value(&mut args, a),
        None => args.extend_from_slice(b"{}"),
    }
    String::from_utf8_lossy(&args).into_owned()
}

/// Translate a whole Gemini response into an OpenAI chat completion: one choice per candidate,
/// in index order (one empty choice when there is none). `call_prefix` makes the generated
/// tool-call ids unique.
pub fn response(
    body: &mut [u8],
    meta: &Meta,
    call_prefix: &str,
    out: &mut Vec<u8>,
) -> Result<Usage> {
    let v = simd_json::to_borrowed_value(body).map_err(|_| bad_event())?;
    let mut usage = Usage::default();
    if let Some(u) = v.get("usageMetadata") {
        usage_of(u, &mut usage);
    }
    let mut list = candidates(&v)?;
    list.sort_by_key(|c| c.index);
    list.dedup_by_key(|c| c.index);
    let mut c = Obj::new(out);
    c.str("id", &meta.id);
    c.str("object", "chat.completion");
    c.num("created", meta.created);
    c.str("model", &meta.model);
    let mut choices = Arr::new(c.key("choices"));
    if list.is_empty() {
        choice(choices.item(), meta, call_prefix, None);
    }
    for candidate in &list {
        choice(choices.item(), meta, call_prefix, Some(candidate));
    }
    choices.end();
    usage.write(c.key("usage"));
    c.end();
    Ok(usage)
}

/// One choice of a whole answer.
fn choice(out: &mut Vec<u8>, meta: &Meta, call_prefix: &str, candidate: Option<&Candidate<'_>>) {
    let parts: Vec<&Value<'_>> = candidate
        .map(|c| c.answer_parts().collect())
        .unwrap_or_default();
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| oai::str_field(p, "text"))
        .collect();
    // Each call with the part it came in (which may carry its thought signature).
    let calls: Vec<(&Value<'_>, &Value<'_>)> = parts
        .iter()
        .filter_map(|p| p.get("functionCall").map(|c| (*p, c)))
        .collect();
    let index = candidate.map_or(0, |c| c.index);
    let finish = candidate
        .and_then(|c| c.finish)
        .map_or("stop", |r| finish_reason(r, !calls.is_empty()));
    let mut ch = Obj::new(out);
    ch.num("index", index as u64);
    let mut msg = Obj::new(ch.key("message"));
    msg.str("role", "assistant");
    if texts.is_empty() {
        msg.raw("content", b"null");
    } else {
        msg.str("content", &texts.concat());
    }
    let reasoning: String = candidate
        .map(|c| c.thoughts().collect())
        .unwrap_or_default();
    if meta.show_reasoning && !reasoning.is_empty() {
        msg.str("reasoning_content", &reasoning);
    }
    if !calls.is_empty() {
        let mut arr = Arr::new(msg.key("tool_calls"));
        for (i, (part, call)) in calls.iter().enumerate() {
            let mut tc = Obj::new(arr.item());
            tc.str("id", &call_id(call_prefix, index, i, part));
            tc.str("type", "function");
            let mut f = Obj::new(tc.key("function"));
            f.str("name", oai::str_field(call, "name").unwrap_or(""));
            f.str("arguments", &args_text(call));
            f.end();
            tc.end();
        }
        arr.end();
    }
    msg.raw("refusal", b"null");
    msg.end();
    ch.raw("logprobs", b"null");
    ch.str("finish_reason", finish);
    ch.end();
}
