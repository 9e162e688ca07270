//! OpenAI chat ⇄ Gemini generateContent.
//!
//! Out: system and developer messages → `systemInstruction`; user/assistant → `contents` with
//! roles user/model; images → `inlineData` (data URLs) or `fileData` (links); assistant tool
//! calls → `functionCall` parts; `tool` messages → `functionResponse` parts (named after the
//! call they answer; a JSON-object result is passed as is, anything else as `{"content": …}`);
//! tools → `functionDeclarations` (schemas as `parametersJsonSchema`, so JSON Schema passes
//! unchanged); tool_choice → `toolConfig.functionCallingConfig`; temperature, top_p,
//! max_tokens, stop and `response_format` (JSON) → `generationConfig`.
//!
//! Back: text parts → `content`, thought parts → `reasoning_content` (withheld where response
//! guardrails read the answer); `reasoning_effort` goes out as `thinkingConfig` (a budget, with
//! `includeThoughts`); `functionCall` parts → `tool_calls`
//! with generated ids (Gemini has none) that carry the call's thought signature, which goes back
//! on the call's part next turn (`gemini/signature.rs`); `STOP` with calls → `tool_calls`; safety reasons →
//! `content_filter`; usage with thoughts as reasoning tokens. Gemini streams have no `[DONE]`:
//! the translator adds it when the provider's stream ends.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

pub mod signature;
pub mod stream;

use super::json::{Arr, Obj};
use super::openai_in::{self as oai, invalid, Part, ToolChoice};
pub use stream::Stream;

use super::{bad_event, Meta, Usage};
use crate::error::Result;
use crate::http::respond::json_string;

/// Write the Gemini request body for an OpenAI chat request.
pub fn request(req: &Value<'_>, out: &mut Vec<u8>) -> Result<()> {
    let messages = req
        .get("messages")
        .and_then(|m| m.as_array())
        .ok_or_else(|| invalid("'messages' must be an array"))?;
    oai::one_choice(req)?;
    let mut body = Obj::new(out);
    let mut system = Vec::new();
    for m in messages
        .iter()
        .filter(|m| matches!(oai::role(m), "system" | "developer"))
    {
        system.push(oai::text(m)?);
    }
    if !system.is_empty() {
        let mut si = Obj::new(body.key("systemInstruction"));
        let mut parts = Arr::new(si.key("parts"));
        for text in &system {
            let mut p = Obj::new(parts.item());
            p.str("text", text);
            p.end();
        }
        parts.end();
        si.end();
    }
    write_contents(&mut body, messages)?;
    write_tools(&mut body, req);
    write_generation_config(&mut body, req);
    body.end();
    Ok(())
}

fn write_contents(body: &mut Obj<'_>, messages: &[Value<'_>]) -> Result<()> {
    // Tool results name the function they answer; Gemini has no call ids.
    let mut call_names: Vec<(&str, &str)> = Vec::new();
    let mut contents = Arr::new(body.key("contents"));
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        match oai::role(m) {
            "system" | "developer" => {}
            "user" => {
                let mut c = Obj::new(contents.item());
                c.str("role", "user");
                let mut parts = Arr::new(c.key("parts"));
                for p in oai::parts(m)? {
                    write_part(parts.item(), &p);
                }
                parts.end();
                c.end();
            }
            "assistant" => {
                let mut c = Obj::new(contents.item());
                c.str("role", "model");
                let mut parts = Arr::new(c.key("parts"));
                for p in oai::parts(m)? {
                    if !matches!(p, Part::Text(t) if t.is_empty()) {
                        write_part(parts.item(), &p);
                    }
                }
                let listed = m
                    .get("tool_calls")
                    .and_then(|c| c.as_array())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for (k, (id, name, args)) in oai::tool_calls(m)?.into_iter().enumerate() {
                    call_names.push((id, name));
                    let mut p = Obj::new(parts.item());
                    let mut call = Obj::new(p.key("functionCall"));
                    call.str("name", name);
                    call.raw("args", oai::arguments_object(args)?.as_bytes());
                    call.end();
                    // Gemini 3 refuses its own signed calls without their signatures.
                    if let Some(sig) = signature::open(id, listed.get(k)) {
                        p.str("thoughtSignature", &sig);
                    }
                    p.end();
                }
                parts.end();
                c.end();
            }
            "tool" => {
                let start = i;
                while i + 1 < messages.len() && oai::role(&messages[i + 1]) == "tool" {
                    i += 1;
                }
                let mut c = Obj::new(contents.item());
                c.str("role", "user");
                let mut parts = Arr::new(c.key("parts"));
                for t in &messages[start..=i] {
                    let id = oai::str_field(t, "tool_call_id")
                        .ok_or_else(|| invalid("tool message without tool_call_id"))?;
                    let name = call_names
                        .iter()
                        .find(|(call, _)| *call == id)
                        .map(|(_, n)| *n)
                        .ok_or_else(|| invalid("tool message answers no earlier tool call"))?;
                    let result = oai::text(t)?;
                    let mut p = Obj::new(parts.item());
                    let mut fr = Obj::new(p.key("functionResponse"));
                    fr.str("name", name);
                    match oai::arguments_object(&result) {
                        Ok(object) if !result.trim().is_empty() => {
                            fr.raw("response", object.as_bytes())
                        }
                        _ => {
                            let mut r = Obj::new(fr.key("response"));
                            r.str("content", &result);
                            r.end();
                        }
                    }
                    fr.end();
                    p.end();
                }
                parts.end();
                c.end();
            }
            _ => return Err(invalid("unsupported message role")),
        }
        i += 1;
    }
    contents.end();
    Ok(())
}

fn write_part(out: &mut Vec<u8>, p: &Part<'_>) {
    let mut o = Obj::new(out);
    match p {
        Part::Text(t) => o.str("text", t),
        Part::InlineImage { media_type, base64 } => {
            let mut d = Obj::new(o.key("inlineData"));
            d.str("mimeType", media_type);
            d.str("data", base64);
            d.end();
        }
        Part::ImageLink(url) => {
            let mut d = Obj::new(o.key("fileData"));
            d.str("mimeType", guess_image_type(url));
            d.str("fileUri", url);
            d.end();
        }
    }
    o.end();
}

fn guess_image_type(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    }
}

fn write_tools(body: &mut Obj<'_>, req: &Value<'_>) {
    let tools = oai::tools(req);
    if !tools.is_empty() {
        let mut arr = Arr::new(body.key("tools"));
        let mut t = Obj::new(arr.item());
        let mut decls = Arr::new(t.key("functionDeclarations"));
        for (name, description, parameters) in tools {
            let mut f = Obj::new(decls.item());
            f.str("name", name);
            if let Some(d) = description {
                f.str("description", d);
            }
            if let Some(p) = parameters {
                f.value("parametersJsonSchema", p);
            }
            f.end();
        }
        decls.end();
        t.end();
        arr.end();
    }
    let Some(choice) = oai::tool_choice(req) else {
        return;
    };
    let mut tc = Obj::new(body.key("toolConfig"));
    let mut fc = Obj::new(tc.key("functionCallingConfig"));
    match choice {
        ToolChoice::Auto => fc.str("mode", "AUTO"),
        ToolChoice::None => fc.str("mode", "NONE"),
        ToolChoice::Required => fc.str("mode", "ANY"),
        ToolChoice::Function(name) => {
            fc.str("mode", "ANY");
            let mut names = Arr::new(fc.key("allowedFunctionNames"));
            json_string(names.item(), name);
            names.end();
        }
    }
    fc.end();
    tc.end();
}

fn write_generation_config(body: &mut Obj<'_>, req: &Value<'_>) {
    let temperature = req.get("temperature").filter(|v| v.as_f64().is_some());
    let top_p = req.get("top_p").filter(|v| v.as_f64().is_some());
    let max = oai::max_tokens(req);
    let stops = oai::stop_sequences(req);
    let format = req.get("response_format");
    let format_type = format.and_then(|f| oai::str_field(f, "type"));
    let json = matches!(format_type, Some("json_object" | "json_schema"));
    let effort = oai::str_field(req, "reasoning_effort");
    let budget = effort.and_then(thinking_budget);
    if temperature.is_none()
        && top_p.is_none()
        && max.is_none()
        && stops.is_empty()
        && !json
        && budget.is_none()
    {
        return;
    }
    let mut g = Obj::new(body.key("generationConfig"));
    if let Some(t) = temperature {
        g.value("temperature", t);
    }
    if let Some(p) = top_p {
        g.value("topP", p);
    }
    if let Some(m) = max {
        g.num("maxOutputTokens", m);
    }
    if !stops.is_empty() {
        let mut arr = Arr::new(g.key("stopSequences"));
        for s in stops {
            json_string(arr.item(), s);
        }
        arr.end();
    }
    if let Some(budget) = budget {
        let mut t = Obj::new(g.key("thinkingConfig"));
        t.num("thinkingBudget", budget);
        if budget > 0 {
            t.raw("includeThoughts", b"true");
        }
        t.end();
    }
    if json {
        g.str("responseMimeType", "application/json");
        let schema = format
            .and_then(|f| f.get("json_schema"))
            .and_then(|s| s.get("schema"));
        if let Some(schema) = schema {
            g.value("responseJsonSchema", schema);
        }
    }
    g.end();
}

/// The `thinkingBudget` for an OpenAI `reasoning_effort` (`none` turns thinking off).
fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "none" => Some(0),
        "minimal" => Some(512),
        "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

/// The text of the first candidate's thought parts.
fn thoughts<'v>(v: &'v Value<'v>) -> impl Iterator<Item = &'v str> {
    first_candidate_parts(v)
        .iter()
        .filter(|p| p.get("thought").and_then(|t| t.as_bool()) == Some(true))
        .filter_map(|p| oai::str_field(p, "text"))
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

pub(crate) fn usage_of(u: &Value<'_>, into: &mut Usage) {
    let n = |k: &str| u.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let thoughts = n("thoughtsTokenCount");
    into.prompt = n("promptTokenCount");
    into.completion = n("candidatesTokenCount") + thoughts;
    into.reasoning = thoughts;
    into.cached = n("cachedContentTokenCount");
}

/// The parts of the first candidate, without thought parts.
fn answer_parts<'v>(v: &'v Value<'v>) -> impl Iterator<Item = &'v Value<'v>> {
    first_candidate_parts(v)
        .iter()
        .filter(|p| p.get("thought").and_then(|t| t.as_bool()) != Some(true))
}

/// The parts of the first candidate, thoughts included.
fn first_candidate_parts<'v>(v: &'v Value<'v>) -> &'v [Value<'v>] {
    v.get("candidates")
        .and_then(|c| c.as_array())
        .and_then(|c| c.first())
        .and_then(|c| c.get("content"))
        .and_then(|c| c.get("parts"))
        .and_then(|p| p.as_array())
        .map(|p| p.as_slice())
        .unwrap_or_default()
}

fn candidate_finish<'v>(v: &'v Value<'v>) -> Option<&'v str> {
    let first = v
        .get("candidates")
        .and_then(|c| c.as_array())
        .and_then(|c| c.first());
    match first {
        Some(c) => oai::str_field(c, "finishReason"),
        // No candidates: the prompt itself was blocked.
        None => v
            .get("promptFeedback")
            .and_then(|f| oai::str_field(f, "blockReason"))
            .map(|_| "SAFETY"),
    }
}

/// Write a function call's arguments as OpenAI's JSON text.
fn args_text(call: &Value<'_>) -> String {
    let mut args = Vec::new();
    match call.get("args") {
        Some(a) => super::json::value(&mut args, a),
        None => args.extend_from_slice(b"{}"),
    }
    String::from_utf8_lossy(&args).into_owned()
}

/// Translate a whole Gemini response into an OpenAI chat completion. `call_prefix` makes the
/// generated tool-call ids unique.
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
    let parts: Vec<&Value<'_>> = answer_parts(&v).collect();
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| oai::str_field(p, "text"))
        .collect();
    // Each call with the part it came in (which may carry its thought signature).
    let calls: Vec<(&Value<'_>, &Value<'_>)> = parts
        .iter()
        .filter_map(|p| p.get("functionCall").map(|c| (*p, c)))
        .collect();
    let finish = candidate_finish(&v).map_or("stop", |r| finish_reason(r, !calls.is_empty()));
    let mut c = Obj::new(out);
    c.str("id", &meta.id);
    c.str("object", "chat.completion");
    c.num("created", meta.created);
    c.str("model", &meta.model);
    {
        let choices = c.key("choices");
        choices.extend_from_slice(b"[{\"index\":0,\"message\":");
        let mut msg = Obj::new(choices);
        msg.str("role", "assistant");
        if texts.is_empty() {
            msg.raw("content", b"null");
        } else {
            msg.str("content", &texts.concat());
        }
        let reasoning: String = thoughts(&v).collect();
        if meta.show_reasoning && !reasoning.is_empty() {
            msg.str("reasoning_content", &reasoning);
        }
        if !calls.is_empty() {
            let mut arr = Arr::new(msg.key("tool_calls"));
            for (i, (part, call)) in calls.iter().enumerate() {
                let mut tc = Obj::new(arr.item());
                tc.str(
                    "id",
                    &signature::seal(format!("call_{call_prefix}_{i}"), part),
                );
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
        choices.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        json_string(choices, finish);
        choices.extend_from_slice(b"}]");
    }
    usage.write(c.key("usage"));
    c.end();
    Ok(usage)
}
