//! OpenAI chat ⇄ Anthropic Messages.
//!
//! Out: system and developer messages become the top-level `system`; user turns keep text and
//! images (data URLs → base64 image blocks, links → URL image blocks); assistant `tool_calls`
//! become `tool_use` blocks; consecutive `tool` messages become one user turn of `tool_result`
//! blocks; tools, tool_choice (`required` → `any`, `parallel_tool_calls: false` →
//! `disable_parallel_tool_use`), `stop` → `stop_sequences`, `max_tokens` (default
//! [`DEFAULT_MAX_TOKENS`], Anthropic requires one), temperature (clamped to Anthropic's 0..=1),
//! top_p, `user` → `metadata.user_id`. Prompt caching: a `cache_control` on a content part (or
//! on a message with string content) stays on its block — the system prompt becomes blocks
//! then — so the client's breakpoints reach Anthropic; cache reads come back as
//! `cached_tokens` and are billed as free.
//!
//! Back: text blocks → `content`, `tool_use` → `tool_calls` (a running index, not the block
//! index), stop reasons and usage mapped; streams event by event.
//!
//! Structured output: `response_format` `json_schema` (or `json_object`) goes out as one more
//! tool, [`JSON_TOOL`], whose input schema is the client's schema, and a `tool_choice` that makes
//! the model call it (forced when the client offers no tools of its own, `any` when it does, the
//! client's own choice when it names a function). The call's input is then the answer's
//! `content` — as a string, streamed as it arrives — and the answer finishes with `stop`: the
//! client gets the JSON it asked for, never prose in its place.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

pub mod stream;
pub mod thinking;
mod tools;

use super::json::{Arr, Obj};
use super::openai_in::{self as oai, invalid, Part};
pub use stream::Stream;
pub use tools::structured_output;
use tools::write_tools;

use super::{bad_event, Meta, Usage};
use crate::error::Result;

/// The tool a structured-output request is answered through.
pub const JSON_TOOL: &str = "json_response";

/// `max_tokens` when the client gives none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// The `anthropic-version` Warden speaks.
pub const API_VERSION: &str = "2023-06-01";

/// Write the Anthropic Messages body for an OpenAI chat request.
pub fn request(
    req: &Value<'_>,
    upstream_model: &str,
    stream: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    let messages = req
        .get("messages")
        .and_then(|m| m.as_array())
        .ok_or_else(|| invalid("'messages' must be an array"))?;
    oai::one_choice(req)?;
    let budget = thinking::requested(req)?;
    if budget.is_some() && structured_output(req).is_some() {
        return Err(invalid(
            "a Claude model cannot think and be forced to answer in JSON at once; drop reasoning_effort or response_format",
        ));
    }
    let mut body = Obj::new(out);
    body.str("model", upstream_model);
    match budget {
        Some(budget) => {
            let (max, budget) = thinking::limits(oai::max_tokens(req), budget)?;
            body.num("max_tokens", max);
            thinking::write_config(&mut body, budget);
        }
        None => body.num(
            "max_tokens",
            oai::max_tokens(req).unwrap_or(DEFAULT_MAX_TOKENS),
        ),
    }
    write_system(&mut body, messages)?;
    write_messages(&mut body, messages)?;
    write_tools(&mut body, req, budget.is_some())?;
    let stops = oai::stop_sequences(req);
    if !stops.is_empty() {
        let mut arr = Arr::new(body.key("stop_sequences"));
        for s in stops {
            crate::http::respond::json_string(arr.item(), s);
        }
        arr.end();
    }
    if let Some(t) = req
        .get("temperature")
        .and_then(|v| v.cast_f64())
        .filter(|_| budget.is_none())
    {
        let _ = std::io::Write::write_fmt(
            body.key("temperature"),
            format_args!("{}", t.clamp(0.0, 1.0)),
        );
    }
    let top_p_ok = |p: f64| budget.is_none() || p >= 0.95;
    if let Some(p) = req
        .get("top_p")
        .filter(|v| v.cast_f64().is_some_and(top_p_ok))
    {
        body.value("top_p", p);
    }
    if let Some(user) = oai::str_field(req, "user") {
        let mut meta = Obj::new(body.key("metadata"));
        meta.str("user_id", user);
        meta.end();
    }
    if stream {
        body.raw("stream", b"true");
    }
    body.end();
    Ok(())
}

fn write_messages(body: &mut Obj<'_>, messages: &[Value<'_>]) -> Result<()> {
    let mut arr = Arr::new(body.key("messages"));
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        match oai::role(m) {
            "system" | "developer" => {}
            "user" => {
                let mut msg = Obj::new(arr.item());
                msg.str("role", "user");
                write_content(msg.key("content"), m)?;
                msg.end();
            }
            "assistant" => write_assistant(arr.item(), m)?,
            "tool" => {
                let start = i;
                while i + 1 < messages.len() && oai::role(&messages[i + 1]) == "tool" {
                    i += 1;
                }
                let mut msg = Obj::new(arr.item());
                msg.str("role", "user");
                let mut blocks = Arr::new(msg.key("content"));
                for t in &messages[start..=i] {
                    let mut b = Obj::new(blocks.item());
                    b.str("type", "tool_result");
                    b.str(
                        "tool_use_id",
                        oai::str_field(t, "tool_call_id")
                            .ok_or_else(|| invalid("tool message without tool_call_id"))?,
                    );
                    b.str("content", &oai::text(t)?);
                    b.end();
                }
                blocks.end();
                msg.end();
            }
            _ => return Err(invalid("unsupported message role")),
        }
        i += 1;
    }
    arr.end();
    Ok(())
}

/// The system and developer messages as the top-level `system`: one string (joined by blank
/// lines), or — when any of them marks a `cache_control` breakpoint — text blocks that keep it.
fn write_system(body: &mut Obj<'_>, messages: &[Value<'_>]) -> Result<()> {
    let system: Vec<&Value<'_>> = messages
        .iter()
        .filter(|m| matches!(oai::role(m), "system" | "developer"))
        .collect();
    if system.is_empty() {
        return Ok(());
    }
    if !system.iter().any(|m| has_cache_control(m)) {
        let mut text = String::new();
        for m in &system {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&oai::text(m)?);
        }
        if !text.is_empty() {
            body.str("system", &text);
        }
        return Ok(());
    }
    let mut blocks = Arr::new(body.key("system"));
    for m in system {
        write_blocks(&mut blocks, m)?;
    }
    blocks.end();
    Ok(())
}

/// Whether a message marks a prompt-caching breakpoint, on itself or on one of its parts.
fn has_cache_control(m: &Value<'_>) -> bool {
    m.get("cache_control").is_some()
        || m.get("content")
            .and_then(|c| c.as_array())
            .is_some_and(|parts| parts.iter().any(|p| p.get("cache_control").is_some()))
}

/// A user turn's content: a string stays a string (unless it marks a cache breakpoint); parts
/// become blocks, each keeping its `cache_control`.
fn write_content(out: &mut Vec<u8>, m: &Value<'_>) -> Result<()> {
    if let Some(text) = m.get("content").and_then(|c| c.as_str()) {
        if m.get("cache_control").is_none() {
            crate::http::respond::json_string(out, text);
            return Ok(());
        }
    }
    let mut blocks = Arr::new(out);
    write_blocks(&mut blocks, m)?;
    blocks.end();
    Ok(())
}

/// A message's content as blocks, with the `cache_control` of each part (a string content: of
/// the message).
fn write_blocks(blocks: &mut Arr<'_>, m: &Value<'_>) -> Result<()> {
    let raw = m.get("content").and_then(|c| c.as_array());
    for (i, p) in oai::parts(m)?.iter().enumerate() {
        let cache = match raw {
            Some(parts) => parts.get(i).and_then(|r| r.get("cache_control")),
            None => m.get("cache_control"),
        };
        write_part(blocks.item(), p, cache);
    }
    Ok(())
}

fn write_part(out: &mut Vec<u8>, p: &Part<'_>, cache: Option<&Value<'_>>) {
    let mut b = Obj::new(out);
    match p {
        Part::Text(t) => {
            b.str("type", "text");
            b.str("text", t);
        }
        Part::InlineImage { media_type, base64 } => {
            b.str("type", "image");
            let mut src = Obj::new(b.key("source"));
            src.str("type", "base64");
            src.str("media_type", media_type);
            src.str("data", base64);
            src.end();
        }
        Part::ImageLink(url) => {
            b.str("type", "image");
            let mut src = Obj::new(b.key("source"));
            src.str("type", "url");
            src.str("url", url);
            src.end();
        }
    }
    if let Some(c) = cache.filter(|c| c.is_object()) {
        b.value("cache_control", c);
    }
    b.end();
}

fn write_assistant(out: &mut Vec<u8>, m: &Value<'_>) -> Result<()> {
    let mut msg = Obj::new(out);
    msg.str("role", "assistant");
    let mut blocks = Arr::new(msg.key("content"));
    thinking::write_blocks(&mut blocks, m);
    let raw = m.get("content").and_then(|c| c.as_array());
    for (i, p) in oai::parts(m)?.iter().enumerate() {
        if matches!(p, Part::Text(t) if t.is_empty()) {
            continue;
        }
        let cache = raw.and_then(|parts| parts.get(i)?.get("cache_control"));
        write_part(blocks.item(), p, cache);
    }
    for (id, name, args) in oai::tool_calls(m)? {
        let mut b = Obj::new(blocks.item());
        b.str("type", "tool_use");
        b.str("id", id);
        b.str("name", name);
        b.raw("input", oai::arguments_object(args)?.as_bytes());
        b.end();
    }
    blocks.end();
    msg.end();
    Ok(())
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

pub(crate) fn usage_of(u: &Value<'_>, into: &mut Usage) {
    let n = |k: &str| u.get(k).and_then(|v| v.as_u64());
    if let Some(input) = n("input_tokens") {
        let read = n("cache_read_input_tokens").unwrap_or(0);
        into.prompt = input + read + n("cache_creation_input_tokens").unwrap_or(0);
        into.cached = read;
    }
    if let Some(output) = n("output_tokens") {
        into.completion = output;
    }
}

/// Translate a whole Anthropic message into an OpenAI chat completion.
pub fn response(body: &mut [u8], meta: &Meta, out: &mut Vec<u8>) -> Result<Usage> {
    let v = simd_json::to_borrowed_value(body).map_err(|_| bad_event())?;
    let mut usage = Usage::default();
    if let Some(u) = v.get("usage") {
        usage_of(u, &mut usage);
    }
    let blocks = v
        .get("content")
        .and_then(|c| c.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let is_json_call = |b: &&Value<'_>| {
        meta.json_tool
            && oai::str_field(b, "type") == Some("tool_use")
            && oai::str_field(b, "name") == Some(JSON_TOOL)
    };
    let json_answer = blocks.iter().find(is_json_call).map(|b| {
        let mut json = Vec::new();
        match b.get("input") {
            Some(input) => super::json::value(&mut json, input),
            None => json.extend_from_slice(b"{}"),
        }
        String::from_utf8_lossy(&json).into_owned()
    });
    let text: String = match &json_answer {
        Some(json) => json.clone(),
        None => blocks
            .iter()
            .filter(|b| oai::str_field(b, "type") == Some("text"))
            .filter_map(|b| oai::str_field(b, "text"))
            .collect(),
    };
    let calls: Vec<&Value<'_>> = blocks
        .iter()
        .filter(|b| oai::str_field(b, "type") == Some("tool_use") && !is_json_call(b))
        .collect();
    let mut finish = finish_reason(oai::str_field(&v, "stop_reason").unwrap_or("end_turn"));
    if json_answer.is_some() && calls.is_empty() && finish == "tool_calls" {
        finish = "stop";
    }
    let mut c = Obj::new(out);
    c.str("id", oai::str_field(&v, "id").unwrap_or(&meta.id));
    c.str("object", "chat.completion");
    c.num("created", meta.created);
    c.str("model", &meta.model);
    {
        let choices = c.key("choices");
        choices.extend_from_slice(b"[{\"index\":0,\"message\":");
        let mut msg = Obj::new(choices);
        msg.str("role", "assistant");
        let has_text = json_answer.is_some()
            || blocks
                .iter()
                .any(|b| oai::str_field(b, "type") == Some("text"));
        if has_text {
            msg.str("content", &text);
        } else {
            msg.raw("content", b"null");
        }
        let thoughts: Vec<&Value<'_>> = blocks
            .iter()
            .filter(|b| {
                matches!(
                    oai::str_field(b, "type"),
                    Some("thinking" | "redacted_thinking")
                )
            })
            .collect();
        if meta.show_reasoning && !thoughts.is_empty() {
            let reasoning: String = thoughts
                .iter()
                .filter_map(|b| oai::str_field(b, "thinking"))
                .collect();
            msg.str("reasoning_content", &reasoning);
            let mut arr = Arr::new(msg.key("thinking_blocks"));
            for b in thoughts {
                thinking::write_block(arr.item(), b);
            }
            arr.end();
        }
        if !calls.is_empty() {
            let mut arr = Arr::new(msg.key("tool_calls"));
            for b in calls {
                let mut call = Obj::new(arr.item());
                call.str("id", oai::str_field(b, "id").unwrap_or(""));
                call.str("type", "function");
                let mut f = Obj::new(call.key("function"));
                f.str("name", oai::str_field(b, "name").unwrap_or(""));
                let mut args = Vec::new();
                match b.get("input") {
                    Some(input) => super::json::value(&mut args, input),
                    None => args.extend_from_slice(b"{}"),
                }
                f.str("arguments", &String::from_utf8_lossy(&args));
                f.end();
                call.end();
            }
            arr.end();
        }
        msg.raw("refusal", b"null");
        msg.end();
        choices.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        crate::http::respond::json_string(choices, finish);
        choices.extend_from_slice(b"}]");
    }
    usage.write(c.key("usage"));
    c.end();
    Ok(usage)
}
