//! OpenAI's Responses API (`POST /v1/responses`) over the chat mappings: a Responses request
//! becomes an OpenAI chat request ([`request`]), which then takes the chat path to whichever
//! provider serves the alias — spliced for OpenAI-compatible providers, translated for
//! Anthropic and Gemini — and the chat answer comes back as a Responses object ([`response`])
//! or event stream (`responses/stream.rs`).
//!
//! OpenAI's own aliases are not converted: OpenAI gets the client's body as it came (model
//! renamed, guardrail placeholders in) at its `/responses`, and its answer comes back as it is,
//! read by the response guard in the Responses API's own shapes — so stored state
//! (`previous_response_id`, `conversation`), built-in tools and OpenAI's item types work there.
//!
//! Through chat, every compliance step is the same on every provider: the response guard
//! filters chat chunks before they become Responses events, and usage is metered from the chat
//! answer. What chat cannot carry is refused with 400 for the providers reached through chat
//! rather than dropped: `previous_response_id` and `conversation` (Warden keeps no conversation
//! state), built-in tools (web search, file search, computer use, …), `background` and stored
//! prompts; such a request may still be answered by an OpenAI route. `store` is accepted and
//! answered as `false` there: nothing is stored. `reasoning` items in the input are dropped on
//! the way to chat: they only mean something to the OpenAI session that made them. The
//! guardrails read the client's Responses body itself (`extract::responses`), whichever way it
//! goes. docs/providers.md has the mapping table.

pub mod answer;
pub mod ending;
pub mod stream;

pub use answer::{
    call_item, message_item, output_text_part, reasoning_item, response, status_of,
    summary_text_part, write_response, write_usage, THINKING_MARK,
};

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::json::{self, Arr, Obj};
use super::openai_in::str_field;
use crate::error::{Error, Kind, Result};
use crate::http::respond::json_string;

/// What a Responses answer repeats of its request, written once as JSON fields
/// (`"instructions":…,"tools":[…],…`) and appended to every response object.
#[derive(Clone, Default)]
pub struct Echo {
    /// `resp_…`, from the request id.
    pub id: String,
    /// The alias the client named.
    pub model: Box<str>,
    pub created_at: u64,
    pub fields: Vec<u8>,
}

impl Echo {
    /// The id without its `resp_` prefix, for the ids of the response's items.
    pub fn suffix(&self) -> &str {
        self.id.strip_prefix("resp_").unwrap_or(&self.id)
    }
}

/// The detail of a refusal that only concerns chat: OpenAI's own Responses API takes the
/// request (see [`only_openai`]).
const ONLY_OPENAI: &str = "only OpenAI models take it through Warden";

/// Refuse a request field chat cannot honour (OpenAI's own Responses API can).
fn unsupported(what: &'static str) -> Error {
    Error::new(Kind::InvalidRequest, what).with_detail(ONLY_OPENAI)
}

/// Whether `e` refuses what chat cannot carry, rather than a malformed request: an OpenAI
/// route may still answer it.
pub fn only_openai(e: &Error) -> bool {
    e.kind == Kind::InvalidRequest && e.detail.as_deref() == Some(ONLY_OPENAI)
}

/// The chat request for a Responses request, into `out`, and what its answers repeat.
pub fn request(req: &Value<'_>, out: &mut Vec<u8>) -> Result<Vec<u8>> {
    for (field, why) in [
        (
            "previous_response_id",
            "previous_response_id is not supported for this model: only OpenAI keeps response state; send the whole conversation in input",
        ),
        (
            "conversation",
            "conversation is not supported for this model: only OpenAI keeps conversation state; send the whole conversation in input",
        ),
        ("prompt", "stored prompts are not supported for this model; send the instructions and input"),
    ] {
        if req.get(field).is_some_and(|v| !v.is_null()) {
            return Err(unsupported(why));
        }
    }
    if req.get("background").and_then(|b| b.as_bool()) == Some(true) {
        return Err(unsupported(
            "background responses are not supported for this model",
        ));
    }
    let model = str_field(req, "model")
        .ok_or_else(|| Error::new(Kind::InvalidRequest, "missing required parameter: 'model'"))?;
    let mut o = Obj::new(out);
    o.str("model", model);
    {
        let mut messages = Arr::new(o.key("messages"));
        if let Some(i) = req.get("instructions").filter(|v| !v.is_null()) {
            let text = i.as_str().ok_or_else(|| {
                Error::new(Kind::InvalidRequest, "'instructions' must be a string")
            })?;
            let mut m = Obj::new(messages.item());
            m.str("role", "system");
            m.str("content", text);
            m.end();
        }
        match req.get("input") {
            Some(i) if i.as_str().is_some() => {
                let mut m = Obj::new(messages.item());
                m.str("role", "user");
                m.value("content", i);
                m.end();
            }
            Some(i) if i.as_array().is_some() => {
                input_items(
                    i.as_array().map(Vec::as_slice).unwrap_or_default(),
                    &mut messages,
                )?;
            }
            _ => {
                return Err(Error::new(
                    Kind::InvalidRequest,
                    "'input' must be a string or a list of input items",
                ))
            }
        }
        if messages.is_empty() {
            return Err(Error::new(
                Kind::InvalidRequest,
                "'input' must not be empty",
            ));
        }
        messages.end();
    }
    if let Some(tools) = req.get("tools").and_then(|t| t.as_array()) {
        if !tools.is_empty() {
            let mut arr = Arr::new(o.key("tools"));
            for t in tools {
                if str_field(t, "type") != Some("function") {
                    return Err(unsupported(
                        "only function tools are supported for this model; built-in tools (web search, file search, computer use, code interpreter, MCP) are OpenAI's",
                    ));
                }
                let mut tool = Obj::new(arr.item());
                tool.str("type", "function");
                let mut f = Obj::new(tool.key("function"));
                for k in ["name", "description", "parameters", "strict"] {
                    if let Some(v) = t.get(k).filter(|v| !v.is_null()) {
                        f.value(k, v);
                    }
                }
                f.end();
                tool.end();
            }
            arr.end();
        }
    }
    match req.get("tool_choice") {
        Some(c) if c.as_str().is_some() => o.value("tool_choice", c),
        Some(c) if str_field(c, "type") == Some("function") => {
            let name = str_field(c, "name").unwrap_or_default();
            let choice = o.key("tool_choice");
            choice.extend_from_slice(b"{\"type\":\"function\",\"function\":{\"name\":");
            json_string(choice, name);
            choice.extend_from_slice(b"}}");
        }
        Some(c) if !c.is_null() => {
            return Err(unsupported(
                "tool_choice may be auto, none, required or a function",
            ))
        }
        _ => {}
    }
    if let Some(n) = req.get("max_output_tokens").filter(|v| !v.is_null()) {
        o.value("max_completion_tokens", n);
    }
    for k in ["temperature", "top_p", "parallel_tool_calls", "user"] {
        if let Some(v) = req.get(k).filter(|v| !v.is_null()) {
            o.value(k, v);
        }
    }
    if let Some(effort) = req.get("reasoning").and_then(|r| r.get("effort")) {
        if !effort.is_null() {
            o.value("reasoning_effort", effort);
        }
    }
    if let Some(format) = req.get("text").and_then(|t| t.get("format")) {
        match str_field(format, "type") {
            Some("json_schema") => {
                let rf = o.key("response_format");
                rf.extend_from_slice(b"{\"type\":\"json_schema\",\"json_schema\":");
                let mut s = Obj::new(rf);
                for k in ["name", "description", "schema", "strict"] {
                    if let Some(v) = format.get(k).filter(|v| !v.is_null()) {
                        s.value(k, v);
                    }
                }
                s.end();
                rf.push(b'}');
            }
            Some("json_object") => o.raw("response_format", b"{\"type\":\"json_object\"}"),
            _ => {}
        }
    }
    if req.get("stream").and_then(|s| s.as_bool()) == Some(true) {
        o.raw("stream", b"true");
        o.raw("stream_options", b"{\"include_usage\":true}");
    }
    o.end();
    Ok(echo_fields(req))
}

/// For a request chat cannot carry (only OpenAI's own Responses API may answer it): a chat
/// request that names the model — with the input when it is one string, and the output limit —
/// for routing and limits only; and the fields its answers repeat.
pub fn routing_stub(req: &Value<'_>, out: &mut Vec<u8>) -> Vec<u8> {
    let mut o = Obj::new(out);
    o.str("model", str_field(req, "model").unwrap_or_default());
    {
        let mut messages = Arr::new(o.key("messages"));
        let mut m = Obj::new(messages.item());
        m.str("role", "user");
        m.str("content", str_field(req, "input").unwrap_or_default());
        m.end();
        messages.end();
    }
    if let Some(n) = req
        .get("max_output_tokens")
        .filter(|v| v.as_u64().is_some())
    {
        o.value("max_completion_tokens", n);
    }
    if req.get("stream").and_then(|s| s.as_bool()) == Some(true) {
        o.raw("stream", b"true");
    }
    o.end();
    echo_fields(req)
}

/// The input items as chat messages: messages (`role` + content), an assistant turn — an
/// assistant message and the `function_call`s right after it, or calls alone — as one message
/// with `tool_calls`, and `function_call_output` (tool messages). A reasoning item Warden wrote
/// (signed thinking in its `encrypted_content`) goes back as the next assistant turn's
/// `thinking_blocks`; OpenAI's own reasoning items mean nothing to other providers and are
/// dropped.
fn input_items<'v>(items: &'v [Value<'v>], messages: &mut Arr<'_>) -> Result<()> {
    let is_call = |x: &&Value<'_>| str_field(x, "type") == Some("function_call");
    let mut thinking: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < items.len() {
        let item = &items[i];
        let assistant_text = match str_field(item, "type") {
            Some("message") | None if str_field(item, "role") == Some("assistant") => {
                Some(parts_text(item.get("content").unwrap_or(&NULL)))
            }
            _ => None,
        };
        match str_field(item, "type") {
            _ if assistant_text.is_some() || is_call(&item) => {
                let mut m = Obj::new(messages.item());
                m.str("role", "assistant");
                match &assistant_text {
                    Some(text) => m.str("content", text),
                    None => m.raw("content", b"null"),
                }
                if let Some(blocks) = thinking.take() {
                    m.raw("thinking_blocks", &blocks);
                }
                if assistant_text.is_some() {
                    i += 1;
                }
                if items.get(i).filter(is_call).is_some() {
                    let mut calls = Arr::new(m.key("tool_calls"));
                    while let Some(call) = items.get(i).filter(is_call) {
                        let mut c = Obj::new(calls.item());
                        c.str("id", str_field(call, "call_id").unwrap_or_default());
                        c.str("type", "function");
                        let mut f = Obj::new(c.key("function"));
                        f.str("name", str_field(call, "name").unwrap_or_default());
                        f.str("arguments", str_field(call, "arguments").unwrap_or("{}"));
                        f.end();
                        c.end();
                        i += 1;
                    }
                    calls.end();
                }
                m.end();
                continue;
            }
            Some("function_call_output") => {
                let mut m = Obj::new(messages.item());
                m.str("role", "tool");
                m.str(
                    "tool_call_id",
                    str_field(item, "call_id").unwrap_or_default(),
                );
                match item.get("output") {
                    Some(out) if out.as_str().is_some() => m.value("content", out),
                    Some(out) => m.str("content", &parts_text(out)),
                    None => m.str("content", ""),
                }
                m.end();
            }
            Some("reasoning") => thinking = signed_thinking(item),
            Some("message") | None if item.get("role").is_some() => message(item, messages)?,
            _ => {
                return Err(unsupported(
                    "input items may be messages, function_call, function_call_output or reasoning for this model",
                ))
            }
        }
        i += 1;
    }
    Ok(())
}

static NULL: Value<'static> = Value::Static(simd_json::StaticNode::Null);

/// The thinking blocks a reasoning item Warden wrote carries (`THINKING_MARK` and a JSON array
/// in `encrypted_content`), as JSON; `None` for anyone else's.
fn signed_thinking(item: &Value<'_>) -> Option<Vec<u8>> {
    let sealed = str_field(item, "encrypted_content")?.strip_prefix(THINKING_MARK)?;
    let mut copy = sealed.as_bytes().to_vec();
    let blocks = simd_json::to_borrowed_value(&mut copy).ok()?;
    blocks.as_array()?;
    Some(blocks.encode().into_bytes())
}

/// One message item: its role, its content as a string or as text and image parts.
fn message<'v>(item: &'v Value<'v>, messages: &mut Arr<'_>) -> Result<()> {
    let role = match str_field(item, "role") {
        Some(r @ ("user" | "assistant" | "system" | "developer")) => r,
        _ => {
            return Err(Error::new(
                Kind::InvalidRequest,
                "a message's role must be user, assistant, system or developer",
            ))
        }
    };
    let mut m = Obj::new(messages.item());
    m.str("role", role);
    match item.get("content") {
        Some(c) if c.as_str().is_some() => m.value("content", c),
        // The assistant's earlier answers go back as plain text.
        Some(c) if role == "assistant" => m.str("content", &parts_text(c)),
        Some(c) if c.as_array().is_some() => {
            let mut parts = Arr::new(m.key("content"));
            for p in c.as_array().map(Vec::as_slice).unwrap_or_default() {
                match str_field(p, "type") {
                    Some("input_text" | "output_text" | "text") => {
                        let mut t = Obj::new(parts.item());
                        t.str("type", "text");
                        t.str("text", str_field(p, "text").unwrap_or_default());
                        t.end();
                    }
                    Some("input_image") => {
                        let url = str_field(p, "image_url").ok_or_else(|| {
                            unsupported(
                                "input_image needs an image_url (file ids are not supported)",
                            )
                        })?;
                        let mut t = Obj::new(parts.item());
                        t.str("type", "image_url");
                        let mut u = Obj::new(t.key("image_url"));
                        u.str("url", url);
                        if let Some(d) = str_field(p, "detail") {
                            u.str("detail", d);
                        }
                        u.end();
                        t.end();
                    }
                    _ => {
                        return Err(unsupported(
                            "content parts may be input_text, output_text or input_image",
                        ))
                    }
                }
            }
            parts.end();
        }
        _ => return Err(Error::new(Kind::InvalidRequest, "a message needs content")),
    }
    m.end();
    Ok(())
}

/// The text of a list of content parts (or a string), joined.
fn parts_text(v: &Value<'_>) -> String {
    if let Some(s) = v.as_str() {
        return s.to_owned();
    }
    v.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| str_field(p, "text").or_else(|| str_field(p, "refusal")))
        .collect::<Vec<_>>()
        .join("")
}

/// The request fields a response object repeats, as JSON object members.
fn echo_fields(req: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut o = Obj::new(&mut out);
    let copy = |o: &mut Obj<'_>, k: &str, default: &[u8]| match req.get(k).filter(|v| !v.is_null())
    {
        Some(v) => o.value(k, v),
        None => o.raw(k, default),
    };
    copy(&mut o, "instructions", b"null");
    copy(&mut o, "max_output_tokens", b"null");
    copy(&mut o, "metadata", b"{}");
    copy(&mut o, "parallel_tool_calls", b"true");
    copy(&mut o, "temperature", b"1.0");
    copy(&mut o, "tool_choice", b"\"auto\"");
    copy(&mut o, "tools", b"[]");
    copy(&mut o, "top_p", b"1.0");
    copy(&mut o, "user", b"null");
    match req.get("text").filter(|v| !v.is_null()) {
        Some(t) => o.value("text", t),
        None => o.raw("text", b"{\"format\":{\"type\":\"text\"}}"),
    }
    {
        let r = o.key("reasoning");
        let asked = req.get("reasoning");
        for (n, k) in ["effort", "summary"].iter().enumerate() {
            r.extend_from_slice(if n == 0 { b"{\"" } else { b",\"" });
            r.extend_from_slice(k.as_bytes());
            r.extend_from_slice(b"\":");
            match asked.and_then(|a| a.get(*k)) {
                Some(v) => json::value(r, v),
                None => r.extend_from_slice(b"null"),
            }
        }
        r.push(b'}');
    }
    o.raw("previous_response_id", b"null");
    o.raw("store", b"false");
    o.raw("truncation", b"\"disabled\"");
    o.end();
    // The members, without the object's braces.
    out[1..out.len() - 1].to_vec()
}

#[cfg(test)]
mod tests;
