//! OpenAI's Responses API: a response as its typed events and back.
//!
//! A response becomes the events the API streams for it, numbered by `sequence_number`:
//! `response.created` and `response.in_progress` (the response in progress, no output yet); per
//! output item `response.output_item.added` (the item without its text), its parts and deltas —
//! a message's `output_text` or `refusal` parts whole in one delta each (an output text's
//! annotations as `response.output_text.annotation.added`), a function call's arguments, a
//! reasoning item's summary parts, a web or file search's `in_progress`, `searching` and
//! `completed`, the code interpreter's code and run, an MCP call's arguments and end, a custom
//! tool's input — each part's and the item's `done`; then `response.completed`
//! (`response.incomplete` for an incomplete one) with the whole response. Items of other types
//! (image generation, which streams partial images when asked, MCP tool listings and approvals,
//! anything newer) are not made: the request is a miss.
//!
//! A stream becomes the body without joining anything: its last event, `response.completed` (or
//! `response.incomplete`), carries the whole response object, which is what the API answers a
//! request that does not stream.

use memchr::memmem;
use simd_json::owned::Object;
use simd_json::prelude::*;
use simd_json::OwnedValue as Value;

use super::{event, limit, parse, MAX_ITEMS};
use crate::sse::events_in;

/// The events that matter here: two endings that carry the whole response, and two failures.
const KINDS: [&[u8]; 4] = [
    b"response.completed",
    b"response.incomplete",
    b"response.failed",
    b"error",
];
/// The same, as an event's data says it when the stream names no events.
const TYPED: [&[u8]; 4] = [
    br#""type":"response.completed""#,
    br#""type":"response.incomplete""#,
    br#""type":"response.failed""#,
    br#""type":"error""#,
];

pub fn to_body(stream: &[u8]) -> Option<Vec<u8>> {
    let mut body = None;
    for e in events_in(stream) {
        // Most events are deltas: only an ending (or a failure) is parsed.
        let kind = match e.name {
            Some(name) => KINDS.iter().position(|k| *k == name),
            None => TYPED
                .iter()
                .position(|t| memmem::find(&e.data, t).is_some()),
        };
        match kind {
            Some(0 | 1) => {}
            Some(_) => return None,
            None => continue,
        }
        let event = parse(&e.data)?;
        let response = event.get("response").filter(|r| r.is_object())?;
        let mut out = Vec::with_capacity(e.data.len());
        let _ = response.write(&mut out);
        body = Some(out);
    }
    body
}

pub fn to_stream(body: &[u8]) -> Option<Vec<u8>> {
    let response = parse(body)?;
    let whole = response.as_object()?;
    if whole.get("object").and_then(Value::as_str) != Some("response") {
        return None;
    }
    let ending = match whole.get("status").and_then(Value::as_str) {
        Some("completed") => "response.completed",
        Some("incomplete") => "response.incomplete",
        // Failed, cancelled, queued or still in progress: not an answer to replay.
        _ => return None,
    };
    let output = whole.get("output")?.as_array()?;
    if output.len() > MAX_ITEMS || whole.get("error").is_some_and(|e| !e.is_null()) {
        return None;
    }
    // The response as it opens: everything but its output (not copied only to be replaced).
    let mut opening: Object = whole
        .iter()
        .filter(|(k, _)| k.as_str() != "output")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    opening.insert("status".into(), Value::from("in_progress"));
    opening.insert("output".into(), Value::array());
    opening.insert("usage".into(), Value::null());
    opening.insert("incomplete_details".into(), Value::null());
    let opening = Value::from(opening);
    let mut events = Events {
        out: Vec::with_capacity(body.len() * 2 + 1024),
        next: 0,
        bound: limit(body.len()),
    };
    events.push("response.created", [("response", opening.clone())])?;
    events.push("response.in_progress", [("response", opening)])?;
    for (index, item) in output.iter().enumerate() {
        item_events(&mut events, index as u64, item.as_object()?)?;
    }
    events.push(ending, [("response", response.clone())])?;
    Some(events.out)
}

/// The stream being written: each event gets the next `sequence_number`; past `bound` bytes
/// the conversion gives up.
struct Events {
    out: Vec<u8>,
    next: u64,
    bound: usize,
}

impl Events {
    fn push<'a>(
        &mut self,
        kind: &str,
        members: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Option<()> {
        let mut e = Object::default();
        e.insert("type".into(), Value::from(kind));
        e.insert("sequence_number".into(), Value::from(self.next));
        for (k, v) in members {
            e.insert(k.into(), v);
        }
        self.next += 1;
        event(&mut self.out, Some(kind), &Value::from(e));
        (self.out.len() <= self.bound).then_some(())
    }
}

impl Events {
    /// `response.output_item.added`: the item as it opens.
    fn added(&mut self, index: u64, item: Object) -> Option<()> {
        self.push(
            "response.output_item.added",
            [("output_index", Value::from(index)), ("item", item.into())],
        )
    }

    /// A text the API streams (`{stem}.delta`, `{stem}.done`), here whole: one delta, then the
    /// done event carrying it as `field`; `at` names the item.
    fn whole(
        &mut self,
        stem: &str,
        at: Vec<(&str, Value)>,
        field: &str,
        text: Value,
    ) -> Option<()> {
        let mut delta = at.clone();
        delta.push(("delta", text.clone()));
        self.push(&format!("{stem}.delta"), delta)?;
        let mut done = at;
        done.push((field, text));
        self.push(&format!("{stem}.done"), done)
    }
}

/// One output item: `output_item.added`, its parts' events, `output_item.done`.
fn item_events(events: &mut Events, index: u64, item: &Object) -> Option<()> {
    let id = item.get("id").cloned().unwrap_or(Value::null());
    let at = |more: Vec<(&'static str, Value)>| {
        let mut members = vec![
            ("item_id", id.clone()),
            ("output_index", Value::from(index)),
        ];
        members.extend(more);
        members
    };
    let mut added = item.clone();
    match item.get("type")?.as_str()? {
        "message" => {
            added.insert("content".into(), Value::array());
            added.insert("status".into(), Value::from("in_progress"));
            events.added(index, added)?;
            for (c, part) in item.get("content")?.as_array()?.iter().enumerate() {
                let part = part.as_object()?;
                let c = Value::from(c as u64);
                let (field, delta_kind, done_kind) = match part.get("type")?.as_str()? {
                    "output_text" => (
                        "text",
                        "response.output_text.delta",
                        "response.output_text.done",
                    ),
                    "refusal" => ("refusal", "response.refusal.delta", "response.refusal.done"),
                    _ => return None,
                };
                let text = part.get(field).filter(|t| t.is_str())?.clone();
                let mut empty = part.clone();
                empty.insert(field.into(), Value::from(""));
                if empty.contains_key("annotations") {
                    empty.insert("annotations".into(), Value::array());
                }
                let logprobs = part.get("logprobs").cloned().unwrap_or(Value::array());
                let with_logprobs = field == "text";
                events.push(
                    "response.content_part.added",
                    at(vec![("content_index", c.clone()), ("part", empty.into())]),
                )?;
                let mut delta = vec![("content_index", c.clone()), ("delta", text.clone())];
                let mut done = vec![("content_index", c.clone()), (field, text)];
                if with_logprobs {
                    delta.push(("logprobs", logprobs.clone()));
                    done.push(("logprobs", logprobs));
                }
                events.push(delta_kind, at(delta))?;
                let annotations = part.get("annotations").and_then(Value::as_array);
                for (a, annotation) in annotations.into_iter().flatten().enumerate() {
                    events.push(
                        "response.output_text.annotation.added",
                        at(vec![
                            ("content_index", c.clone()),
                            ("annotation_index", Value::from(a as u64)),
                            ("annotation", annotation.clone()),
                        ]),
                    )?;
                }
                events.push(done_kind, at(done))?;
                events.push(
                    "response.content_part.done",
                    at(vec![("content_index", c), ("part", part.clone().into())]),
                )?;
            }
        }
        "function_call" => {
            let arguments = item.get("arguments").filter(|a| a.is_str())?.clone();
            added.insert("arguments".into(), Value::from(""));
            added.insert("status".into(), Value::from("in_progress"));
            events.added(index, added)?;
            events.whole(
                "response.function_call_arguments",
                at(vec![]),
                "arguments",
                arguments,
            )?;
        }
        "reasoning" => {
            added.insert("summary".into(), Value::array());
            events.added(index, added)?;
            let summary = item.get("summary").and_then(Value::as_array);
            for (s, part) in summary.into_iter().flatten().enumerate() {
                let part = part.as_object()?;
                let text = part.get("text").filter(|t| t.is_str())?.clone();
                let s = Value::from(s as u64);
                let mut empty = part.clone();
                empty.insert("text".into(), Value::from(""));
                events.push(
                    "response.reasoning_summary_part.added",
                    at(vec![("summary_index", s.clone()), ("part", empty.into())]),
                )?;
                events.push(
                    "response.reasoning_summary_text.delta",
                    at(vec![("summary_index", s.clone()), ("delta", text.clone())]),
                )?;
                events.push(
                    "response.reasoning_summary_text.done",
                    at(vec![("summary_index", s.clone()), ("text", text)]),
                )?;
                events.push(
                    "response.reasoning_summary_part.done",
                    at(vec![("summary_index", s), ("part", part.clone().into())]),
                )?;
            }
        }
        // A search OpenAI ran: its progress events, the call whole at its `done`.
        kind @ ("web_search_call" | "file_search_call") => {
            added.insert("status".into(), Value::from("in_progress"));
            events.added(index, added)?;
            for step in ["in_progress", "searching", "completed"] {
                events.push(&format!("response.{kind}.{step}"), at(vec![]))?;
            }
        }
        // Code run by OpenAI's code interpreter: the code as it is written, then its run.
        "code_interpreter_call" => {
            let code = item.get("code").and_then(Value::as_str).unwrap_or_default();
            let code = Value::from(code);
            added.insert("code".into(), Value::from(""));
            added.insert("status".into(), Value::from("in_progress"));
            events.added(index, added)?;
            events.push("response.code_interpreter_call.in_progress", at(vec![]))?;
            events.whole(
                "response.code_interpreter_call_code",
                at(vec![]),
                "code",
                code,
            )?;
            events.push("response.code_interpreter_call.interpreting", at(vec![]))?;
            events.push("response.code_interpreter_call.completed", at(vec![]))?;
        }
        // A remote MCP server's tool called by OpenAI: its arguments, then how it ended.
        "mcp_call" => {
            let arguments = item.get("arguments").filter(|a| a.is_str())?.clone();
            let failed = item.get("error").is_some_and(|e| !e.is_null());
            added.insert("arguments".into(), Value::from(""));
            events.added(index, added)?;
            events.push("response.mcp_call.in_progress", at(vec![]))?;
            events.whole(
                "response.mcp_call_arguments",
                at(vec![]),
                "arguments",
                arguments,
            )?;
            let end = if failed {
                "response.mcp_call.failed"
            } else {
                "response.mcp_call.completed"
            };
            events.push(end, at(vec![]))?;
        }
        // A custom tool's free-form input.
        "custom_tool_call" => {
            let input = item.get("input").filter(|i| i.is_str())?.clone();
            added.insert("input".into(), Value::from(""));
            events.added(index, added)?;
            events.whole(
                "response.custom_tool_call_input",
                at(vec![]),
                "input",
                input,
            )?;
        }
        // Image generation streams partial images when asked for them, and MCP tool listings
        // and approvals have their own events: not made here.
        _ => return None,
    }
    events.push(
        "response.output_item.done",
        [
            ("output_index", Value::from(index)),
            ("item", item.clone().into()),
        ],
    )
}
