//! A chat completion as an Anthropic message: the first choice's text as a text block, its tool
//! calls as `tool_use` blocks (arguments parsed: Anthropic's input is an object), a refusal as
//! text; `finish_reason` → `stop_reason` (stop → end_turn, length → max_tokens, tool_calls →
//! tool_use, content_filter → refusal); usage with cached tokens apart, as Anthropic counts them.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::Echo;
use crate::error::{Error, Kind, Result};
use crate::translate::json::{Arr, Obj};
use crate::translate::openai_in::{first_choice, str_field};
use crate::translate::{bad_event, openai_usage, Usage};

/// Anthropic's `stop_reason` for a chat `finish_reason`.
pub fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic's `usage` object for chat usage.
pub fn write_usage(o: &mut Obj<'_>, u: &Usage) {
    let mut w = Obj::new(o.key("usage"));
    w.num("input_tokens", u.prompt.saturating_sub(u.cached));
    w.num("cache_creation_input_tokens", 0);
    w.num("cache_read_input_tokens", u.cached);
    w.num("output_tokens", u.completion);
    w.end();
}

/// A tool call's arguments as the object Anthropic's `input` is.
pub fn input_object(arguments: &str) -> Result<Vec<u8>> {
    let trimmed = arguments.trim();
    if trimmed.is_empty() {
        return Ok(b"{}".to_vec());
    }
    let mut copy = trimmed.as_bytes().to_vec();
    let is_object = matches!(
        simd_json::to_borrowed_value(&mut copy),
        Ok(Value::Object(_))
    );
    if is_object {
        Ok(trimmed.as_bytes().to_vec())
    } else {
        Err(Error::new(
            Kind::UpstreamProtocol,
            "provider sent tool arguments that are not a JSON object",
        ))
    }
}

/// Write the Anthropic message for a chat completion `body`.
pub fn response(body: &mut [u8], echo: &Echo, out: &mut Vec<u8>) -> Result<()> {
    let usage = openai_usage(body).unwrap_or_default();
    let v = simd_json::to_borrowed_value(body).map_err(|_| bad_event())?;
    let choice = first_choice(&v);
    let message = choice.and_then(|c| c.get("message"));
    let mut o = Obj::new(out);
    o.str("id", &echo.id);
    o.str("type", "message");
    o.str("role", "assistant");
    o.str("model", &echo.model);
    {
        let mut content = Arr::new(o.key("content"));
        let text = message.and_then(|m| str_field(m, "content"));
        let refusal = message.and_then(|m| str_field(m, "refusal"));
        for t in [text, refusal]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
        {
            let mut b = Obj::new(content.item());
            b.str("type", "text");
            b.str("text", t);
            b.end();
        }
        let calls = message
            .and_then(|m| m.get("tool_calls"))
            .and_then(|c| c.as_array())
            .map(Vec::as_slice)
            .unwrap_or_default();
        for call in calls {
            let f = call.get("function");
            let mut b = Obj::new(content.item());
            b.str("type", "tool_use");
            b.str("id", str_field(call, "id").unwrap_or_default());
            b.str(
                "name",
                f.and_then(|f| str_field(f, "name")).unwrap_or_default(),
            );
            let args = f.and_then(|f| str_field(f, "arguments")).unwrap_or("{}");
            b.raw("input", &input_object(args)?);
            b.end();
        }
        content.end();
    }
    let refused = message.is_some_and(|m| str_field(m, "refusal").is_some());
    let finish = choice
        .and_then(|c| str_field(c, "finish_reason"))
        .unwrap_or("stop");
    o.str(
        "stop_reason",
        if refused {
            "refusal"
        } else {
            stop_reason(finish)
        },
    );
    o.raw("stop_sequence", b"null");
    write_usage(&mut o, &usage);
    o.end();
    Ok(())
}
