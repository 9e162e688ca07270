//! OpenAI Chat Completions: a `chat.completion` as `chat.completion.chunk` events and back.
//!
//! A body becomes, per choice, one chunk with the whole message as its delta (tool calls
//! numbered by `index`) and one with its `finish_reason`, then the usage chunk (`"choices":[]`,
//! as `include_usage` gives it — Warden asks for it on every stream and drops it for clients that
//! did not) and `[DONE]`. A stream becomes the body by joining each choice's deltas and
//! log-probabilities; the usage is the usage chunk's.

use simd_json::owned::Object;
use simd_json::prelude::*;
use simd_json::OwnedValue as Value;

use super::{event, join, limit, parse, MAX_CHOICES};
use crate::sse::events_in;

/// Members of a completion or a chunk that are not copied from one to the other as they are
/// (`obfuscation` pads a chunk's size; it is no part of an answer).
const PER_ANSWER: [&str; 4] = ["choices", "usage", "object", "obfuscation"];

pub fn to_stream(body: &[u8]) -> Option<Vec<u8>> {
    let answer = parse(body)?;
    let answer = answer.as_object()?;
    let choices = answer.get("choices")?.as_array()?;
    // What the other direction refuses, this does not make: no error, at least one choice.
    if answer.contains_key("error") || choices.is_empty() {
        return None;
    }
    let mut head = Object::default();
    for (k, v) in answer.iter() {
        if !PER_ANSWER.contains(&k.as_str()) {
            head.insert(k.clone(), v.clone());
        }
    }
    head.insert("object".into(), Value::from("chat.completion.chunk"));
    let chunk = |choice: Value| {
        let mut c = head.clone();
        c.insert("choices".into(), Value::from(vec![choice]));
        Value::from(c)
    };
    let mut out = Vec::with_capacity(body.len() + 512);
    for choice in choices {
        let index = Value::from(choice.get("index").map_or(Some(0), Value::as_u64)?);
        let mut delta = choice.get("message")?.as_object()?.clone();
        if let Some(calls) = delta.get_mut("tool_calls").and_then(|c| c.as_array_mut()) {
            for (i, call) in calls.iter_mut().enumerate() {
                call.as_object_mut()?
                    .insert("index".into(), Value::from(i as u64));
            }
        }
        let logprobs = choice.get("logprobs").cloned().unwrap_or(Value::null());
        let mut first = Object::default();
        first.insert("index".into(), index.clone());
        first.insert("delta".into(), Value::from(delta));
        first.insert("logprobs".into(), logprobs);
        first.insert("finish_reason".into(), Value::null());
        event(&mut out, None, &chunk(Value::from(first)));
        let mut last = Object::default();
        last.insert("index".into(), index);
        last.insert("delta".into(), Value::object());
        last.insert("logprobs".into(), Value::null());
        last.insert(
            "finish_reason".into(),
            choice
                .get("finish_reason")
                .cloned()
                .unwrap_or(Value::null()),
        );
        event(&mut out, None, &chunk(Value::from(last)));
        if out.len() > limit(body.len()) {
            return None;
        }
    }
    if let Some(usage) = answer.get("usage").filter(|u| u.is_object()) {
        let mut c = head.clone();
        c.insert("choices".into(), Value::array());
        c.insert("usage".into(), usage.clone());
        event(&mut out, None, &Value::from(c));
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    Some(out)
}

/// One choice as its deltas arrive.
struct Choice {
    index: u64,
    message: Object,
    logprobs: Option<Object>,
    finish_reason: Value,
}

pub fn to_body(stream: &[u8]) -> Option<Vec<u8>> {
    let mut head: Option<Object> = None;
    let mut choices: Vec<Choice> = Vec::new();
    let mut usage = None;
    let mut done = false;
    // Each chunk is parsed in place in one reused buffer; only what is kept is copied out.
    let (mut scratch, mut buffers) = (Vec::new(), simd_json::Buffers::new(1024));
    let owned = |v: &simd_json::BorrowedValue<'_>| Value::from(v.clone());
    for e in events_in(stream) {
        if e.data.as_ref() == b"[DONE]" {
            done = true;
            break;
        }
        // OpenAI names no events; a named one (an error) is not an answer.
        if e.name.is_some() {
            return None;
        }
        scratch.clear();
        scratch.extend_from_slice(&e.data);
        let chunk = simd_json::to_borrowed_value_with_buffers(&mut scratch, &mut buffers).ok()?;
        let chunk = chunk.as_object()?;
        if chunk.contains_key("error") {
            return None;
        }
        if head.is_none() {
            let mut h = Object::default();
            for (k, v) in chunk.iter() {
                if !PER_ANSWER.contains(&k.as_ref()) {
                    h.insert(k.to_string(), owned(v));
                }
            }
            head = Some(h);
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            usage = Some(owned(u));
        }
        for c in chunk.get("choices")?.as_array()? {
            let index = c.get_u64("index")?;
            let found = choices.iter().position(|x| x.index == index);
            let at = match found {
                Some(at) => at,
                None if choices.len() >= MAX_CHOICES => return None,
                None => {
                    choices.push(Choice {
                        index,
                        message: Object::default(),
                        logprobs: None,
                        finish_reason: Value::null(),
                    });
                    choices.len() - 1
                }
            };
            let slot = &mut choices[at];
            if let Some(delta) = c.get("delta").and_then(|d| d.as_object()) {
                join(&mut slot.message, delta)?;
            }
            if let Some(lp) = c.get("logprobs").and_then(|l| l.as_object()) {
                join(slot.logprobs.get_or_insert_with(Object::default), lp)?;
            }
            if let Some(f) = c.get("finish_reason").filter(|f| !f.is_null()) {
                slot.finish_reason = owned(f);
            }
        }
    }
    // A stream without its end (or without any choice) is not a whole answer.
    if !done || choices.is_empty() {
        return None;
    }
    let mut answer = head?;
    answer.insert("object".into(), Value::from("chat.completion"));
    choices.sort_by_key(|c| c.index);
    let choices: Vec<Value> = choices.into_iter().map(finish).collect();
    answer.insert("choices".into(), Value::from(choices));
    if let Some(usage) = usage {
        answer.insert("usage".into(), usage);
    }
    let mut out = Vec::with_capacity(stream.len());
    let _ = Value::from(answer).write(&mut out);
    Some(out)
}

/// A joined choice as a completion carries it: the message with its role, `content` and
/// `refusal` (null when none came), tool calls without their stream `index`.
fn finish(c: Choice) -> Value {
    let mut message = c.message;
    if !message.contains_key("role") {
        message.insert("role".into(), Value::from("assistant"));
    }
    for k in ["content", "refusal"] {
        if !message.contains_key(k) {
            message.insert(k.into(), Value::null());
        }
    }
    if let Some(calls) = message.get_mut("tool_calls").and_then(|c| c.as_array_mut()) {
        for call in calls.iter_mut() {
            if let Some(call) = call.as_object_mut() {
                call.remove("index");
            }
        }
    }
    let mut choice = Object::default();
    choice.insert("index".into(), Value::from(c.index));
    choice.insert("message".into(), Value::from(message));
    choice.insert(
        "logprobs".into(),
        c.logprobs.map_or(Value::null(), Value::from),
    );
    choice.insert("finish_reason".into(), c.finish_reason);
    Value::from(choice)
}
