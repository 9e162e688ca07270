//! Anthropic's Messages API for models of other providers: a `/v1/messages` request whose model
//! is not Anthropic's becomes a chat request at parse (this file), takes the chat path (any
//! provider, fallbacks, route groups), and its answer comes back as an Anthropic message
//! (`messages/answer.rs`) or event stream (`messages/stream.rs`).
//!
//! In: `system` (a string or text blocks) → a system message; user text and image blocks (base64
//! or URL) → content parts; `tool_result` blocks → tool messages, ahead of the rest of their
//! user turn; assistant text → content, `tool_use` → tool calls (input as JSON text);
//! `thinking` blocks (signed by Anthropic, meaningless elsewhere) are left out; custom tools →
//! function tools; `tool_choice` auto / any / tool / none → auto / required / the function /
//! none, `disable_parallel_tool_use` → `parallel_tool_calls: false`; `max_tokens`,
//! `temperature`, `top_p`, `stop_sequences` → `stop`, `metadata.user_id` → `user`, `stream`
//! (with usage asked for: the closing `message_delta` reports it). Left out: `top_k` and
//! `thinking` (no chat equivalent). Refused with a 400: what only Anthropic runs — server tools
//! (`web_search_…`, `bash_…`, …), `mcp_servers`, `container` — and content blocks chat cannot
//! carry (documents, search results).

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

pub mod answer;
pub mod stream;

use super::json::{Arr, Obj};
use super::openai_in::str_field;
use crate::error::{Error, Kind, Result};
use crate::http::respond::json_string;

/// What the Anthropic answer made from a chat answer repeats of the request.
#[derive(Default, Clone)]
pub struct Echo {
    /// `msg_…`, from the request id.
    pub id: String,
    /// The model the client named.
    pub model: Box<str>,
}

fn refused(what: &'static str) -> Error {
    Error::new(Kind::InvalidRequest, what)
}

/// Write the chat request for an Anthropic Messages request into `out`.
pub fn request(req: &Value<'_>, out: &mut Vec<u8>) -> Result<()> {
    for field in ["mcp_servers", "container"] {
        if req.get(field).is_some_and(|v| !v.is_null()) {
            return Err(refused("this field is only supported for Anthropic models")
                .with_detail(field.to_owned()));
        }
    }
    let model = str_field(req, "model").ok_or_else(|| refused("model: Field required"))?;
    let messages = req
        .get("messages")
        .and_then(|m| m.as_array())
        .ok_or_else(|| refused("messages: Field required"))?;
    let mut o = Obj::new(out);
    o.str("model", model);
    {
        let mut list = Arr::new(o.key("messages"));
        if let Some(system) = req.get("system") {
            let text = text_of(system)?;
            if !text.is_empty() {
                let mut m = Obj::new(list.item());
                m.str("role", "system");
                m.str("content", &text);
                m.end();
            }
        }
        for m in messages {
            match str_field(m, "role") {
                Some("user") => user_turn(m, &mut list)?,
                Some("assistant") => assistant_turn(m, &mut list)?,
                _ => return Err(refused("messages: role must be user or assistant")),
            }
        }
        list.end();
    }
    if let Some(n) = req.get("max_tokens").filter(|v| v.as_u64().is_some()) {
        o.value("max_tokens", n);
    }
    for k in ["temperature", "top_p"] {
        if let Some(v) = req.get(k).filter(|v| v.cast_f64().is_some()) {
            o.value(k, v);
        }
    }
    let stops = req
        .get("stop_sequences")
        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()));
    if let Some(stops) = stops {
        o.value("stop", stops);
    }
    if let Some(user) = req.get("metadata").and_then(|m| str_field(m, "user_id")) {
        o.str("user", user);
    }
    tools(req, &mut o)?;
    if req.get("stream").and_then(|s| s.as_bool()) == Some(true) {
        o.raw("stream", b"true");
        o.raw("stream_options", b"{\"include_usage\":true}");
    }
    o.end();
    Ok(())
}

/// A system prompt or a tool result's content: a string, or its text blocks joined.
fn text_of(v: &Value<'_>) -> Result<String> {
    if let Some(s) = v.as_str() {
        return Ok(s.to_owned());
    }
    let blocks = v
        .as_array()
        .ok_or_else(|| refused("content must be a string or a list of blocks"))?;
    let mut text = String::new();
    for b in blocks {
        match str_field(b, "type") {
            Some("text") => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(str_field(b, "text").unwrap_or_default());
            }
            _ => {
                return Err(refused(
                    "only text blocks are supported here for this model",
                ))
            }
        }
    }
    Ok(text)
}

fn blocks<'v>(m: &'v Value<'v>) -> Result<Option<&'v [Value<'v>]>> {
    match m.get("content") {
        Some(c) if c.as_str().is_some() => Ok(None),
        Some(c) => c
            .as_array()
            .map(|a| Some(a.as_slice()))
            .ok_or_else(|| refused("content must be a string or a list of blocks")),
        None => Err(refused("messages: content: Field required")),
    }
}

/// A user turn: its tool results first (each a tool message answering the call before), then
/// the rest as one user message.
fn user_turn(m: &Value<'_>, list: &mut Arr<'_>) -> Result<()> {
    let Some(blocks) = blocks(m)? else {
        let mut u = Obj::new(list.item());
        u.str("role", "user");
        u.str("content", str_field(m, "content").unwrap_or_default());
        u.end();
        return Ok(());
    };
    for b in blocks
        .iter()
        .filter(|b| str_field(b, "type") == Some("tool_result"))
    {
        let id = str_field(b, "tool_use_id")
            .ok_or_else(|| refused("tool_result: tool_use_id: Field required"))?;
        let content = match b.get("content") {
            Some(c) => text_of(c)?,
            None => String::new(),
        };
        let mut t = Obj::new(list.item());
        t.str("role", "tool");
        t.str("tool_call_id", id);
        t.str("content", &content);
        t.end();
    }
    let rest: Vec<&Value<'_>> = blocks
        .iter()
        .filter(|b| str_field(b, "type") != Some("tool_result"))
        .collect();
    if rest.is_empty() {
        return Ok(());
    }
    let mut u = Obj::new(list.item());
    u.str("role", "user");
    let mut parts = Arr::new(u.key("content"));
    for b in rest {
        let mut p = Obj::new(parts.item());
        match str_field(b, "type") {
            Some("text") => {
                p.str("type", "text");
                p.str("text", str_field(b, "text").unwrap_or_default());
            }
            Some("image") => {
                let source = b
                    .get("source")
                    .ok_or_else(|| refused("image: source: Field required"))?;
                let url = match str_field(source, "type") {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        str_field(source, "media_type").unwrap_or("image/png"),
                        str_field(source, "data").unwrap_or_default()
                    ),
                    Some("url") => str_field(source, "url").unwrap_or_default().to_owned(),
                    _ => return Err(refused("image: source type must be base64 or url")),
                };
                p.str("type", "image_url");
                let mut i = Obj::new(p.key("image_url"));
                i.str("url", &url);
                i.end();
            }
            _ => {
                return Err(refused(
                    "this content block type is only supported for Anthropic models",
                ))
            }
        }
        p.end();
    }
    parts.end();
    u.end();
    Ok(())
}

/// An assistant turn: its text as content, its tool uses as tool calls (thinking left out).
fn assistant_turn(m: &Value<'_>, list: &mut Arr<'_>) -> Result<()> {
    let mut a = Obj::new(list.item());
    a.str("role", "assistant");
    let Some(blocks) = blocks(m)? else {
        a.str("content", str_field(m, "content").unwrap_or_default());
        a.end();
        return Ok(());
    };
    let text: Vec<&str> = blocks
        .iter()
        .filter(|b| str_field(b, "type") == Some("text"))
        .filter_map(|b| str_field(b, "text"))
        .collect();
    if text.is_empty() {
        a.raw("content", b"null");
    } else {
        a.str("content", &text.concat());
    }
    let uses: Vec<&Value<'_>> = blocks
        .iter()
        .filter(|b| str_field(b, "type") == Some("tool_use"))
        .collect();
    if let Some(other) = blocks.iter().find_map(|b| {
        str_field(b, "type")
            .filter(|t| !matches!(*t, "text" | "tool_use" | "thinking" | "redacted_thinking"))
    }) {
        return Err(
            refused("this content block type is only supported for Anthropic models")
                .with_name(other),
        );
    }
    if !uses.is_empty() {
        let mut calls = Arr::new(a.key("tool_calls"));
        for u in uses {
            let mut c = Obj::new(calls.item());
            c.str(
                "id",
                str_field(u, "id").ok_or_else(|| refused("tool_use: id: Field required"))?,
            );
            c.str("type", "function");
            let mut f = Obj::new(c.key("function"));
            f.str(
                "name",
                str_field(u, "name").ok_or_else(|| refused("tool_use: name: Field required"))?,
            );
            let mut args = Vec::new();
            match u.get("input") {
                Some(input) => super::json::value(&mut args, input),
                None => args.extend_from_slice(b"{}"),
            }
            json_string(f.key("arguments"), &String::from_utf8_lossy(&args));
            f.end();
            c.end();
        }
        calls.end();
    }
    a.end();
    Ok(())
}

/// Custom tools → function tools; `tool_choice` and `disable_parallel_tool_use`.
fn tools(req: &Value<'_>, o: &mut Obj<'_>) -> Result<()> {
    if let Some(list) = req.get("tools").and_then(|t| t.as_array()) {
        let mut arr = Arr::new(o.key("tools"));
        for t in list {
            if str_field(t, "type").is_some_and(|ty| ty != "custom") {
                return Err(
                    refused("server tools are only supported for Anthropic models")
                        .with_name(str_field(t, "type").unwrap_or_default()),
                );
            }
            let name =
                str_field(t, "name").ok_or_else(|| refused("tools: name: Field required"))?;
            let mut w = Obj::new(arr.item());
            w.str("type", "function");
            let mut f = Obj::new(w.key("function"));
            f.str("name", name);
            if let Some(d) = str_field(t, "description") {
                f.str("description", d);
            }
            match t.get("input_schema") {
                Some(s) => f.value("parameters", s),
                None => f.raw("parameters", b"{\"type\":\"object\",\"properties\":{}}"),
            }
            f.end();
            w.end();
        }
        arr.end();
    }
    let Some(choice) = req.get("tool_choice") else {
        return Ok(());
    };
    match str_field(choice, "type") {
        Some("auto") => o.str("tool_choice", "auto"),
        Some("any") => o.str("tool_choice", "required"),
        Some("none") => o.str("tool_choice", "none"),
        Some("tool") => {
            let name = str_field(choice, "name")
                .ok_or_else(|| refused("tool_choice: name: Field required"))?;
            let mut c = Obj::new(o.key("tool_choice"));
            c.str("type", "function");
            let mut f = Obj::new(c.key("function"));
            f.str("name", name);
            f.end();
            c.end();
        }
        _ => return Err(refused("tool_choice: type must be auto, any, tool or none")),
    }
    if choice
        .get("disable_parallel_tool_use")
        .and_then(|d| d.as_bool())
        == Some(true)
    {
        o.raw("parallel_tool_calls", b"false");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
