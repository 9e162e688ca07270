//! Reading an OpenAI chat request: the pieces both translators need — message text, content
//! parts (text, images as data URLs or links), tool calls and their arguments, stop sequences,
//! the token limit.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use crate::error::{Error, Kind, Result};

/// One part of a message's content.
pub enum Part<'v> {
    Text(&'v str),
    /// A `data:` URL, split into media type and base64 payload.
    InlineImage {
        media_type: &'v str,
        base64: &'v str,
    },
    /// An image by link.
    ImageLink(&'v str),
}

pub fn str_field<'v>(v: &'v Value<'_>, key: &str) -> Option<&'v str> {
    v.get(key).and_then(|x| x.as_str())
}

/// The first choice of a chat completion or chunk (the one a single-choice answer has).
pub fn first_choice<'v>(v: &'v Value<'v>) -> Option<&'v Value<'v>> {
    v.get("choices")
        .and_then(|c| c.as_array())
        .and_then(|c| c.first())
}

pub fn role<'v>(m: &'v Value<'_>) -> &'v str {
    str_field(m, "role").unwrap_or("")
}

/// The content of a message as parts; a plain string is one text part.
pub fn parts<'v>(m: &'v Value<'_>) -> Result<Vec<Part<'v>>> {
    match m.get("content") {
        None => Ok(Vec::new()),
        Some(c) if c.is_null() => Ok(Vec::new()),
        Some(c) => {
            if let Some(text) = c.as_str() {
                return Ok(vec![Part::Text(text)]);
            }
            let items = c
                .as_array()
                .ok_or_else(|| invalid("message content must be a string or an array of parts"))?;
            items.iter().map(part).collect()
        }
    }
}

fn part<'v>(p: &'v Value<'_>) -> Result<Part<'v>> {
    match str_field(p, "type") {
        Some("text") => Ok(Part::Text(str_field(p, "text").unwrap_or(""))),
        Some("image_url") => {
            let url = p
                .get("image_url")
                .and_then(|i| str_field(i, "url").or_else(|| i.as_str()))
                .ok_or_else(|| invalid("image_url part without a url"))?;
            Ok(match data_url(url) {
                Some((media_type, base64)) => Part::InlineImage { media_type, base64 },
                None => Part::ImageLink(url),
            })
        }
        _ => Err(invalid("unsupported content part type for this provider")),
    }
}

/// `data:image/png;base64,AAAA` → (`image/png`, `AAAA`).
pub fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// All text of a message's content, joined.
pub fn text(m: &Value<'_>) -> Result<String> {
    let mut out = String::new();
    for p in parts(m)? {
        if let Part::Text(t) = p {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(t);
        }
    }
    Ok(out)
}

/// An assistant message's tool calls: (id, name, arguments JSON text).
pub fn tool_calls<'v>(m: &'v Value<'_>) -> Result<Vec<(&'v str, &'v str, &'v str)>> {
    let Some(calls) = m.get("tool_calls").and_then(|c| c.as_array()) else {
        return Ok(Vec::new());
    };
    calls
        .iter()
        .map(|c| {
            let f = c
                .get("function")
                .ok_or_else(|| invalid("tool call without a function"))?;
            let id = str_field(c, "id").ok_or_else(|| invalid("tool call without an id"))?;
            let name = str_field(f, "name").ok_or_else(|| invalid("tool call without a name"))?;
            Ok((id, name, str_field(f, "arguments").unwrap_or("{}")))
        })
        .collect()
}

/// Tool-call arguments must be a JSON object for Anthropic and Gemini; returns them as JSON text.
pub fn arguments_object(args: &str) -> Result<&str> {
    let trimmed = args.trim();
    if trimmed.is_empty() {
        return Ok("{}");
    }
    let mut copy = trimmed.as_bytes().to_vec();
    let is_object = matches!(
        simd_json::to_borrowed_value(&mut copy),
        Ok(Value::Object(_))
    );
    if is_object {
        Ok(trimmed)
    } else {
        Err(invalid("tool call arguments must be a JSON object"))
    }
}

/// `max_completion_tokens`, else `max_tokens`.
pub fn max_tokens(req: &Value<'_>) -> Option<u64> {
    req.get("max_completion_tokens")
        .and_then(|v| v.as_u64())
        .or_else(|| req.get("max_tokens").and_then(|v| v.as_u64()))
}

/// Refuses `n` other than 1: the provider this is translated for (Anthropic) answers one
/// choice a request, and answering fewer than asked would look like success.
pub fn one_choice(req: &Value<'_>) -> Result<()> {
    choices(
        req,
        1,
        "'n' must be 1 for this model: its provider answers one choice a request",
    )
    .map(|_| ())
}

/// How many choices the request asks for (`n`, 1 when absent); `refusal` when it is not a whole
/// number from 1 to `most`, what the provider can answer.
pub fn choices(req: &Value<'_>, most: u64, refusal: &'static str) -> Result<u64> {
    match req.get("n") {
        None => Ok(1),
        Some(n) if n.is_null() => Ok(1),
        Some(n) => n
            .as_u64()
            .filter(|n| (1..=most).contains(n))
            .ok_or_else(|| invalid(refusal)),
    }
}

/// `stop` as a list: a string is one stop sequence.
pub fn stop_sequences<'v>(req: &'v Value<'_>) -> Vec<&'v str> {
    match req.get("stop") {
        Some(s) if s.as_str().is_some() => s.as_str().into_iter().collect(),
        Some(s) => s
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

/// The function tools of a request: (name, description, parameters).
pub fn tools<'v>(req: &'v Value<'_>) -> Vec<(&'v str, Option<&'v str>, Option<&'v Value<'v>>)> {
    let Some(tools) = req.get("tools").and_then(|t| t.as_array()) else {
        return Vec::new();
    };
    tools
        .iter()
        .filter_map(|t| {
            let f = t.get("function")?;
            Some((
                str_field(f, "name")?,
                str_field(f, "description"),
                f.get("parameters"),
            ))
        })
        .collect()
}

/// `tool_choice`: none | auto | required | a named function.
pub enum ToolChoice<'v> {
    Auto,
    None,
    Required,
    Function(&'v str),
}

pub fn tool_choice<'v>(req: &'v Value<'_>) -> Option<ToolChoice<'v>> {
    let c = req.get("tool_choice")?;
    match c.as_str() {
        Some("none") => Some(ToolChoice::None),
        Some("required") => Some(ToolChoice::Required),
        Some(_) => Some(ToolChoice::Auto),
        None => c
            .get("function")
            .and_then(|f| str_field(f, "name"))
            .map(ToolChoice::Function),
    }
}

pub fn invalid(why: &'static str) -> Error {
    Error::new(Kind::InvalidRequest, why)
}
