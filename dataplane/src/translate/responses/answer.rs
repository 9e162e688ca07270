//! A chat answer as a Responses object: the object's own fields (id, status, output items,
//! usage) followed by what it repeats of the request ([`Echo`]), and the item writers the event
//! stream (`stream.rs`) shares. Output items: a reasoning item when the answer carries
//! reasoning (its text as a summary, signed thinking blocks as `encrypted_content`), a message
//! with one `output_text` part (and a `refusal` part when the model refused), and a
//! `function_call` per tool call.

use simd_json::prelude::*;

use super::Echo;
use crate::error::{Error, Kind, Result};
use crate::http::respond::json_string;
use crate::translate::json::{Arr, Obj};
use crate::translate::openai_in::str_field;
use crate::translate::Usage;

/// Why a chat answer ended, in Responses terms: (status, incomplete reason).
pub fn status_of(finish: Option<&str>) -> (&'static str, Option<&'static str>) {
    match finish {
        Some("length") => ("incomplete", Some("max_output_tokens")),
        Some("content_filter") => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// A response object: the answer's own fields, then the echoed request fields. `status` is
/// (status, incomplete reason, error object as JSON).
pub fn write_response(
    out: &mut Vec<u8>,
    echo: &Echo,
    (status, incomplete, error): (&str, Option<&str>, Option<&[u8]>),
    output: &[u8],
    usage: Option<&Usage>,
) {
    let mut o = Obj::new(out);
    o.str("id", &echo.id);
    o.str("object", "response");
    o.num("created_at", echo.created_at);
    o.str("status", status);
    o.raw("error", error.unwrap_or(b"null"));
    match incomplete {
        Some(reason) => {
            let d = o.key("incomplete_details");
            d.extend_from_slice(b"{\"reason\":");
            json_string(d, reason);
            d.push(b'}');
        }
        None => o.raw("incomplete_details", b"null"),
    }
    o.str("model", &echo.model);
    o.raw("output", output);
    match usage {
        Some(u) => write_usage(o.key("usage"), u),
        None => o.raw("usage", b"null"),
    }
    o.members(&echo.fields);
    o.end();
}

/// Responses usage: input and output tokens with their details.
pub fn write_usage(out: &mut Vec<u8>, u: &Usage) {
    let mut o = Obj::new(out);
    o.num("input_tokens", u.prompt);
    o.raw(
        "input_tokens_details",
        format!("{{\"cached_tokens\":{}}}", u.cached).as_bytes(),
    );
    o.num("output_tokens", u.completion);
    o.raw(
        "output_tokens_details",
        format!("{{\"reasoning_tokens\":{}}}", u.reasoning).as_bytes(),
    );
    o.num("total_tokens", u.prompt + u.completion);
    o.end();
}

/// A message output item holding `text` (and a refusal, if the model refused).
pub fn message_item(
    out: &mut Vec<u8>,
    id: &str,
    status: &str,
    text: Option<&str>,
    refusal: Option<&str>,
) {
    let mut m = Obj::new(out);
    m.str("id", id);
    m.str("type", "message");
    m.str("status", status);
    m.str("role", "assistant");
    let mut content = Arr::new(m.key("content"));
    if let Some(t) = text {
        output_text_part(content.item(), t);
    }
    if let Some(r) = refusal {
        let mut p = Obj::new(content.item());
        p.str("type", "refusal");
        p.str("refusal", r);
        p.end();
    }
    content.end();
    m.end();
}

/// An `output_text` content part.
pub fn output_text_part(out: &mut Vec<u8>, text: &str) {
    let mut p = Obj::new(out);
    p.str("type", "output_text");
    p.str("text", text);
    p.raw("annotations", b"[]");
    p.raw("logprobs", b"[]");
    p.end();
}

/// What starts a reasoning item's `encrypted_content` when Warden wrote it: the signed thinking
/// blocks (Anthropic's) of the answer, as JSON, which the client sends back on its next turn
/// (the item is opaque to it, as OpenAI's own are) and the conversion turns back into
/// `thinking_blocks` (`responses::input_items`).
pub const THINKING_MARK: &str = "warden.thinking.v1:";

/// A reasoning output item: the reasoning as one summary text, and the signed thinking blocks
/// (a JSON array) as `encrypted_content` when there are any.
pub fn reasoning_item(out: &mut Vec<u8>, id: &str, text: &str, blocks: Option<&[u8]>) {
    let mut r = Obj::new(out);
    r.str("id", id);
    r.str("type", "reasoning");
    {
        let mut summary = Arr::new(r.key("summary"));
        if !text.is_empty() {
            summary_text_part(summary.item(), text);
        }
        summary.end();
    }
    if let Some(blocks) = blocks {
        let mut sealed = String::with_capacity(THINKING_MARK.len() + blocks.len());
        sealed.push_str(THINKING_MARK);
        sealed.push_str(&String::from_utf8_lossy(blocks));
        r.str("encrypted_content", &sealed);
    }
    r.end();
}

/// A `summary_text` part of a reasoning item.
pub fn summary_text_part(out: &mut Vec<u8>, text: &str) {
    let mut p = Obj::new(out);
    p.str("type", "summary_text");
    p.str("text", text);
    p.end();
}

/// A function call output item.
pub fn call_item(
    out: &mut Vec<u8>,
    (id, call_id, name): (&str, &str, &str),
    arguments: &str,
    status: &str,
) {
    let mut c = Obj::new(out);
    c.str("id", id);
    c.str("type", "function_call");
    c.str("status", status);
    c.str("call_id", call_id);
    c.str("name", name);
    c.str("arguments", arguments);
    c.end();
}

/// A whole chat completion as a Responses object. Returns its usage.
pub fn response(chat: &mut [u8], echo: &Echo, out: &mut Vec<u8>) -> Result<Option<Usage>> {
    let bad = || Error::new(Kind::UpstreamProtocol, "the provider's answer is malformed");
    let v = simd_json::to_borrowed_value(chat).map_err(|_| bad())?;
    let choice = crate::translate::openai_in::first_choice(&v).ok_or_else(bad)?;
    let message = choice.get("message").ok_or_else(bad)?;
    let mut output = Vec::with_capacity(256);
    {
        let mut items = Arr::new(&mut output);
        // Reasoning (shown only where the response guard does not read answers) comes first,
        // as OpenAI's reasoning models put it.
        let reasoning = str_field(message, "reasoning_content").unwrap_or_default();
        let blocks = message
            .get("thinking_blocks")
            .filter(|b| b.as_array().is_some_and(|a| !a.is_empty()))
            .map(|b| b.encode().into_bytes());
        if !reasoning.is_empty() || blocks.is_some() {
            let id = format!("rs_{}", echo.suffix());
            reasoning_item(items.item(), &id, reasoning, blocks.as_deref());
        }
        let text = str_field(message, "content").filter(|t| !t.is_empty());
        let refusal = str_field(message, "refusal");
        if text.is_some() || refusal.is_some() {
            message_item(
                items.item(),
                &format!("msg_{}", echo.suffix()),
                "completed",
                text,
                refusal,
            );
        }
        for (n, call) in message
            .get("tool_calls")
            .and_then(|c| c.as_array())
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let f = call.get("function");
            let call_id = str_field(call, "id").unwrap_or_default();
            let name = f.and_then(|f| str_field(f, "name")).unwrap_or_default();
            let arguments = f.and_then(|f| str_field(f, "arguments")).unwrap_or("{}");
            let id = format!("fc_{}_{n}", echo.suffix());
            call_item(items.item(), (&id, call_id, name), arguments, "completed");
        }
        items.end();
    }
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| {
        let n = |k: &str| u.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        let detail = |o: &str, k: &str| {
            u.get(o)
                .and_then(|d| d.get(k))
                .and_then(|x| x.as_u64())
                .unwrap_or(0)
        };
        Usage {
            prompt: n("prompt_tokens"),
            completion: n("completion_tokens"),
            cached: detail("prompt_tokens_details", "cached_tokens"),
            reasoning: detail("completion_tokens_details", "reasoning_tokens"),
        }
    });
    let finish = str_field(choice, "finish_reason");
    let (status, incomplete) = status_of(finish);
    write_response(
        out,
        echo,
        (status, incomplete, None),
        &output,
        usage.as_ref(),
    );
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_answer_becomes_a_response_object() {
        let echo = Echo {
            id: "resp_r1".into(),
            model: "alias".into(),
            created_at: 7,
            fields: b"\"store\":false".to_vec(),
        };
        let mut chat = br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}"#.to_vec();
        let mut out = Vec::new();
        let usage = response(&mut chat, &echo, &mut out).unwrap().unwrap();
        assert_eq!((usage.prompt, usage.completion, usage.cached), (3, 2, 1));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "resp_r1");
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(v["output"][0]["id"], "msg_r1");
        assert_eq!(v["output"][0]["content"][0]["text"], "hi");
        assert_eq!(v["output"][1]["call_id"], "call_1");
        assert_eq!(v["usage"]["total_tokens"], 5);
        assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 1);
        assert_eq!(v["store"], false);
    }

    #[test]
    fn reasoning_and_signed_thinking_become_a_reasoning_item_first() {
        let echo = Echo {
            id: "resp_r2".into(),
            ..Echo::default()
        };
        let mut chat = br#"{"choices":[{"message":{"role":"assistant","content":"4","reasoning_content":"2+2","thinking_blocks":[{"type":"thinking","thinking":"2+2","signature":"sig"}]},"finish_reason":"stop"}]}"#.to_vec();
        let mut out = Vec::new();
        response(&mut chat, &echo, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let r = &v["output"][0];
        assert_eq!(r["type"], "reasoning");
        assert_eq!(r["id"], "rs_r2");
        assert_eq!(r["summary"][0]["text"], "2+2");
        let sealed = r["encrypted_content"].as_str().unwrap();
        let blocks: serde_json::Value =
            serde_json::from_str(sealed.strip_prefix(THINKING_MARK).unwrap()).unwrap();
        assert_eq!(blocks[0]["signature"], "sig");
        assert_eq!(v["output"][1]["content"][0]["text"], "4");
    }
}
