//! Anthropic Messages: a `message` as its stream of events and back.
//!
//! A body becomes `message_start` (the message with no content yet), each content block as
//! `content_block_start`, its deltas (the whole text, thinking, signature, tool input or
//! citations at once) and `content_block_stop`, then `message_delta` with the stop reason and
//! the usage, and `message_stop`. Blocks with no delta form (a search result, redacted thinking)
//! start whole, as the API streams them. A stream becomes the body by applying those events; it
//! must end with `message_stop`.

use simd_json::owned::Object;
use simd_json::prelude::*;
use simd_json::OwnedValue as Value;

use super::{event, limit, parse};
use crate::sse::events_in;

/// Blocks whose `input` streams as `input_json_delta`.
const TOOL_BLOCKS: [&str; 3] = ["tool_use", "server_tool_use", "mcp_tool_use"];

pub fn to_stream(body: &[u8]) -> Option<Vec<u8>> {
    let message = parse(body)?;
    let mut message = message.into_object()?;
    if message.get("type").and_then(|t| t.as_str()) != Some("message") {
        return None;
    }
    let content = message.remove("content")?.into_array()?;
    let stop_reason = message.remove("stop_reason").unwrap_or(Value::null());
    let stop_sequence = message.remove("stop_sequence").unwrap_or(Value::null());
    let usage = message.get("usage").cloned().unwrap_or(Value::object());
    message.insert("content".into(), Value::array());
    message.insert("stop_reason".into(), Value::null());
    message.insert("stop_sequence".into(), Value::null());
    let mut out = Vec::with_capacity(body.len() + 1024);
    let mut start = Object::default();
    start.insert("type".into(), Value::from("message_start"));
    start.insert("message".into(), Value::from(message));
    event(&mut out, Some("message_start"), &Value::from(start));
    for (index, block) in content.into_iter().enumerate() {
        block_events(&mut out, index as u64, block.into_object()?)?;
        if out.len() > limit(body.len()) {
            return None;
        }
    }
    let mut delta = Object::default();
    delta.insert("stop_reason".into(), stop_reason);
    delta.insert("stop_sequence".into(), stop_sequence);
    let mut end = Object::default();
    end.insert("type".into(), Value::from("message_delta"));
    end.insert("delta".into(), Value::from(delta));
    end.insert("usage".into(), usage);
    event(&mut out, Some("message_delta"), &Value::from(end));
    let mut stop = Object::default();
    stop.insert("type".into(), Value::from("message_stop"));
    event(&mut out, Some("message_stop"), &Value::from(stop));
    Some(out)
}

/// One content block as `content_block_start`, its deltas and `content_block_stop`.
fn block_events(out: &mut Vec<u8>, index: u64, mut block: Object) -> Option<()> {
    let kind = block.get("type")?.as_str()?.to_owned();
    let mut deltas: Vec<Object> = Vec::new();
    let mut delta = |kind: &str, field: &str, value: Value| {
        let mut d = Object::default();
        d.insert("type".into(), Value::from(kind));
        d.insert(field.into(), value);
        deltas.push(d);
    };
    match kind.as_str() {
        "text" => {
            let text = block
                .insert("text".into(), Value::from(""))
                .filter(Value::is_str)?;
            delta("text_delta", "text", text);
            if let Some(citations) = block.remove("citations").and_then(Value::into_array) {
                for c in citations {
                    delta("citations_delta", "citation", c);
                }
            }
        }
        "thinking" => {
            let thinking = block
                .insert("thinking".into(), Value::from(""))
                .filter(Value::is_str)?;
            delta("thinking_delta", "thinking", thinking);
            if let Some(signature) = block.insert("signature".into(), Value::from("")) {
                delta(
                    "signature_delta",
                    "signature",
                    signature.is_str().then_some(signature)?,
                );
            }
        }
        k if TOOL_BLOCKS.contains(&k) => {
            let input = block.insert("input".into(), Value::object())?;
            let mut json = Vec::new();
            let _ = input.write(&mut json);
            let json = String::from_utf8(json).ok()?;
            delta("input_json_delta", "partial_json", Value::from(json));
        }
        _ => {}
    }
    let mut start = Object::default();
    start.insert("type".into(), Value::from("content_block_start"));
    start.insert("index".into(), Value::from(index));
    start.insert("content_block".into(), Value::from(block));
    event(out, Some("content_block_start"), &Value::from(start));
    for d in deltas {
        let mut e = Object::default();
        e.insert("type".into(), Value::from("content_block_delta"));
        e.insert("index".into(), Value::from(index));
        e.insert("delta".into(), Value::from(d));
        event(out, Some("content_block_delta"), &Value::from(e));
    }
    let mut stop = Object::default();
    stop.insert("type".into(), Value::from("content_block_stop"));
    stop.insert("index".into(), Value::from(index));
    event(out, Some("content_block_stop"), &Value::from(stop));
    Some(())
}

pub fn to_body(stream: &[u8]) -> Option<Vec<u8>> {
    let mut message: Option<Object> = None;
    let mut blocks: Vec<Object> = Vec::new();
    // Each block's streamed tool input, parsed when the block stops.
    let mut inputs: Vec<String> = Vec::new();
    let mut stopped = false;
    // Each event is parsed in place in one reused buffer; only what is kept is copied out.
    let (mut scratch, mut buffers) = (Vec::new(), simd_json::Buffers::new(1024));
    let owned = |v: &simd_json::BorrowedValue<'_>| Value::from(v.clone());
    for e in events_in(stream) {
        scratch.clear();
        scratch.extend_from_slice(&e.data);
        let data = simd_json::to_borrowed_value_with_buffers(&mut scratch, &mut buffers).ok()?;
        let data = data.as_object()?;
        match data.get("type")?.as_str()? {
            "message_start" => message = Some(owned(data.get("message")?).into_object()?),
            "content_block_start" => {
                if data.get("index").and_then(|i| i.as_u64())? != blocks.len() as u64 {
                    return None;
                }
                blocks.push(owned(data.get("content_block")?).into_object()?);
                inputs.push(String::new());
            }
            "content_block_delta" => {
                let index = usize::try_from(data.get("index").and_then(|i| i.as_u64())?).ok()?;
                let block = blocks.get_mut(index)?;
                apply(block, &mut inputs[index], data.get("delta")?)?;
            }
            "content_block_stop" => {
                let index = usize::try_from(data.get("index").and_then(|i| i.as_u64())?).ok()?;
                let input = std::mem::take(inputs.get_mut(index)?);
                if !input.is_empty() {
                    blocks[index].insert("input".into(), parse(input.as_bytes())?);
                }
            }
            "message_delta" => {
                let m = message.as_mut()?;
                for (k, v) in data.get("delta")?.as_object()?.iter() {
                    m.insert(k.to_string(), owned(v));
                }
                if let Some(u) = data.get("usage").and_then(|u| u.as_object()) {
                    let usage = m
                        .entry("usage".into())
                        .or_insert_with(Value::object)
                        .as_object_mut()?;
                    for (k, v) in u.iter() {
                        usage.insert(k.to_string(), owned(v));
                    }
                }
            }
            "message_stop" => stopped = true,
            "ping" => {}
            // An error, or an event this does not know: not a whole answer it can rebuild.
            _ => return None,
        }
    }
    if !stopped {
        return None;
    }
    let mut message = message?;
    message.insert(
        "content".into(),
        Value::from(blocks.into_iter().map(Value::from).collect::<Vec<_>>()),
    );
    let mut out = Vec::with_capacity(stream.len() / 2);
    let _ = Value::from(message).write(&mut out);
    Some(out)
}

/// Apply one `content_block_delta` to its block.
fn apply(
    block: &mut Object,
    input: &mut String,
    delta: &simd_json::BorrowedValue<'_>,
) -> Option<()> {
    let append = |block: &mut Object, field: &str, more: &str| -> Option<()> {
        match block.entry(field.into()).or_insert_with(|| Value::from("")) {
            Value::String(s) => {
                s.push_str(more);
                Some(())
            }
            _ => None,
        }
    };
    match delta.get("type")?.as_str()? {
        "text_delta" => append(block, "text", delta.get_str("text")?),
        "thinking_delta" => append(block, "thinking", delta.get_str("thinking")?),
        "signature_delta" => append(block, "signature", delta.get_str("signature")?),
        "input_json_delta" => {
            input.push_str(delta.get_str("partial_json")?);
            Some(())
        }
        "citations_delta" => {
            let citation = Value::from(delta.get("citation")?.clone());
            match block.entry("citations".into()).or_insert_with(Value::array) {
                Value::Array(list) => {
                    list.push(citation);
                    Some(())
                }
                _ => None,
            }
        }
        _ => None,
    }
}
