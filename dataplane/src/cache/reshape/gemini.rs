//! Gemini: a `GenerateContentResponse` as a `streamGenerateContent?alt=sse` stream and back.
//!
//! A body becomes one event carrying all of it (a stream's events are responses of the same
//! type; one that holds the whole answer is a stream of one). A stream becomes the body by
//! joining its candidates' parts in order (adjacent text parts of the same kind, thought or not,
//! into one, as the API's own whole answers have them) and taking the last word on everything
//! else (finish reason, safety ratings, usage, which each event repeats up to then).

use simd_json::owned::Object;
use simd_json::prelude::*;
use simd_json::OwnedValue as Value;

use super::{parse, MAX_CHOICES};
use crate::sse::events_in;

pub fn to_stream(body: &[u8]) -> Option<Vec<u8>> {
    // Re-written on one line: the API's own bodies are pretty-printed.
    let answer = parse(body)?;
    if !whole(answer.as_object()?) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(b"data: ");
    let _ = answer.write(&mut out);
    out.extend_from_slice(b"\r\n\r\n");
    Some(out)
}

pub fn to_body(stream: &[u8]) -> Option<Vec<u8>> {
    let mut answer: Option<Object> = None;
    for e in events_in(stream) {
        let chunk = parse(&e.data)?.into_object()?;
        if chunk.contains_key("error") {
            return None;
        }
        match answer.as_mut() {
            None => answer = Some(chunk),
            Some(a) => merge(a, chunk)?,
        }
    }
    let answer = answer?;
    if !whole(&answer) {
        return None;
    }
    let mut out = Vec::with_capacity(stream.len());
    let _ = Value::from(answer).write(&mut out);
    Some(out)
}

/// An answer that ended: candidates that each say why (without a finish reason the stream broke
/// off), no error.
fn whole(answer: &Object) -> bool {
    !answer.contains_key("error")
        && answer
            .get("candidates")
            .and_then(Value::as_array)
            .is_some_and(|list| {
                list.iter()
                    .all(|c| c.get("finishReason").is_some_and(|f| !f.is_null()))
            })
}

/// Join one more streamed response into the answer so far.
fn merge(answer: &mut Object, chunk: Object) -> Option<()> {
    for (k, v) in chunk {
        if k != "candidates" {
            answer.insert(k, v);
            continue;
        }
        let list = answer
            .entry("candidates".into())
            .or_insert_with(Value::array)
            .as_array_mut()?;
        for c in v.into_array()? {
            let c = c.into_object()?;
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let found = list
                .iter()
                .position(|x| x.get_u64("index").unwrap_or(0) == index);
            match found {
                Some(at) => merge_candidate(list[at].as_object_mut()?, c)?,
                None if list.len() >= MAX_CHOICES => return None,
                None => list.push(Value::from(c)),
            }
        }
    }
    Some(())
}

fn merge_candidate(slot: &mut Object, c: Object) -> Option<()> {
    for (k, v) in c {
        if k != "content" {
            if !v.is_null() {
                slot.insert(k, v);
            }
            continue;
        }
        let mut content = v.into_object()?;
        let more = content
            .remove("parts")
            .map_or(Some(Vec::new()), Value::into_array)?;
        let have = slot
            .entry("content".into())
            .or_insert_with(Value::object)
            .as_object_mut()?;
        for (ck, cv) in content {
            have.insert(ck, cv);
        }
        let parts = have
            .entry("parts".into())
            .or_insert_with(Value::array)
            .as_array_mut()?;
        for part in more {
            join_part(parts, part.into_object()?);
        }
    }
    Some(())
}

/// Text parts join the text part before them when both are plain text of the same kind.
fn join_part(parts: &mut Vec<Value>, part: Object) {
    let plain = |p: &Object| {
        p.get("text").is_some_and(|t| t.is_str())
            && p.keys()
                .all(|k| matches!(k.as_str(), "text" | "thought" | "thoughtSignature"))
    };
    let thought = |p: &Object| p.get("thought").and_then(|t| t.as_bool()) == Some(true);
    if let Some(last) = parts.last_mut().and_then(|l| l.as_object_mut()) {
        if plain(last) && plain(&part) && thought(last) == thought(&part) {
            let signed = last.contains_key("thoughtSignature");
            if !signed {
                for (k, v) in part {
                    if k != "text" {
                        last.insert(k, v);
                    } else if let (Some(Value::String(t)), Value::String(more)) =
                        (last.get_mut("text"), &v)
                    {
                        t.push_str(more);
                    }
                }
                return;
            }
        }
    }
    parts.push(Value::from(part));
}
