//! OpenAI chat ⇄ Gemini generateContent.
//!
//! Out: system and developer messages → `systemInstruction`; user/assistant → `contents` with
//! roles user/model; images → `inlineData` (data URLs) or `fileData` (links); assistant tool
//! calls → `functionCall` parts; `tool` messages → `functionResponse` parts (named after the
//! call they answer; a JSON-object result is passed as is, anything else as `{"content": …}`);
//! tools → `functionDeclarations` (schemas as `parametersJsonSchema`, so JSON Schema passes
//! unchanged); tool_choice → `toolConfig.functionCallingConfig`; temperature, top_p,
//! max_tokens, stop, seed, presence and frequency penalties, `n` (as `candidateCount`, up to
//! [`MAX_CANDIDATES`]) and `response_format` (JSON) → `generationConfig`.
//!
//! Back (`gemini/answer.rs`, `gemini/stream.rs`): each candidate → a choice (its `index`); text
//! parts → `content`, thought parts → `reasoning_content` (withheld where response guardrails
//! read the answer); `reasoning_effort` goes out as `thinkingConfig` (a budget, with
//! `includeThoughts`); `functionCall` parts → `tool_calls` with generated ids (Gemini has none)
//! that carry the call's thought signature, which goes back on the call's part next turn
//! (`gemini/signature.rs`); `STOP` with calls → `tool_calls`; safety reasons →
//! `content_filter`; usage with thoughts as reasoning tokens. Gemini streams have no `[DONE]`:
//! the translator adds it when the provider's stream ends.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

mod answer;
pub mod signature;
pub mod stream;

use super::json::{Arr, Obj};
use super::openai_in::{self as oai, invalid, Part, ToolChoice};
pub use answer::{finish_reason, response, usage_of};
pub use stream::Stream;

use crate::error::Result;
use crate::http::respond::json_string;

/// The most candidates Gemini answers a request (`candidateCount`), and so the most choices
/// (`n`) a request translated for it may ask for.
pub const MAX_CANDIDATES: u64 = 8;

/// Write the Gemini request body for an OpenAI chat request.
pub fn request(req: &Value<'_>, out: &mut Vec<u8>) -> Result<()> {
    let messages = req
        .get("messages")
        .and_then(|m| m.as_array())
        .ok_or_else(|| invalid("'messages' must be an array"))?;
    let n = oai::choices(
        req,
        MAX_CANDIDATES,
        "'n' must be between 1 and 8 for this model: Gemini answers at most 8 candidates",
    )?;
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
    write_generation_config(&mut body, req, n);
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

fn write_generation_config(body: &mut Obj<'_>, req: &Value<'_>, candidates: u64) {
    let temperature = req.get("temperature").filter(|v| v.cast_f64().is_some());
    let top_p = req.get("top_p").filter(|v| v.cast_f64().is_some());
    let max = oai::max_tokens(req);
    let stops = oai::stop_sequences(req);
    let format = req.get("response_format");
    let format_type = format.and_then(|f| oai::str_field(f, "type"));
    let json = matches!(format_type, Some("json_object" | "json_schema"));
    let effort = oai::str_field(req, "reasoning_effort");
    let budget = effort.and_then(thinking_budget);
    // Gemini's seed is 32 bits: a wider one is folded into them (the same seed always gives
    // the same value).
    let seed = req.get("seed").and_then(|s| s.as_i64()).map(|s| s as i32);
    let number = |k: &str| req.get(k).filter(|v| v.cast_f64().is_some());
    let penalties = [
        ("presencePenalty", number("presence_penalty")),
        ("frequencyPenalty", number("frequency_penalty")),
    ];
    if temperature.is_none()
        && top_p.is_none()
        && seed.is_none()
        && penalties.iter().all(|(_, v)| v.is_none())
        && max.is_none()
        && stops.is_empty()
        && !json
        && budget.is_none()
        && candidates == 1
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
    if candidates > 1 {
        g.num("candidateCount", candidates);
    }
    if let Some(seed) = seed {
        g.raw("seed", seed.to_string().as_bytes());
    }
    for (name, value) in penalties {
        if let Some(v) = value {
            g.value(name, v);
        }
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

#[cfg(test)]
mod tests;
