//! A chat completion stream as a Responses event stream. The pump hands over the chat events it
//! would have written (translated and filtered by the response guard already); each becomes
//! the typed events the Responses API sends, in its order:
//!
//! `response.created`, `response.in_progress`, then per output item `response.output_item.added`,
//! for reasoning `response.reasoning_summary_part.added`, `response.reasoning_summary_text.delta`…,
//! `…text.done`, `…part.done` (signed thinking blocks in the closed item's `encrypted_content`),
//! for a message `response.content_part.added`, `response.output_text.delta`…,
//! `response.output_text.done`, `response.content_part.done`, for a function call
//! `response.function_call_arguments.delta`…, `response.function_call_arguments.done`, then
//! `response.output_item.done`; at the end `response.completed` (or `response.incomplete`) with
//! the whole response and its usage. A chat error event (a provider that broke off, a
//! guardrail that stopped the answer) becomes an `error` event and `response.failed`.
//!
//! Every event carries `type` and a `sequence_number`; there is no `[DONE]`. The text and
//! arguments of each item are kept until the end, because the closing events repeat them.

use std::io::Write;

use simd_json::prelude::*;

use super::{
    call_item, message_item, output_text_part, reasoning_item, status_of, summary_text_part,
    write_response, Echo,
};
use crate::http::respond::json_string;
use crate::translate::json::Obj;
use crate::translate::openai_in::str_field;
use crate::translate::Usage;

/// One function call being streamed.
struct Call {
    /// The chat tool call's index.
    index: u64,
    output_index: usize,
    id: String,
    call_id: String,
    name: String,
    arguments: String,
}

/// The reasoning item being streamed: its output index, its text so far, and the signed
/// thinking blocks (JSON) that arrived.
struct Reasoning {
    output_index: usize,
    text: String,
    blocks: Vec<Vec<u8>>,
}

pub struct Stream {
    echo: Echo,
    reasoning: Option<Reasoning>,
    sequence: u64,
    started: bool,
    finished: bool,
    /// The message item being written: its output index and text so far.
    text: Option<(usize, String)>,
    calls: Vec<Call>,
    /// Closed items as JSON, by output index (the final response lists them).
    items: Vec<(usize, Vec<u8>)>,
    next_index: usize,
    finish: Option<String>,
    usage: Option<Usage>,
}

impl Stream {
    pub fn new(echo: Echo) -> Stream {
        Stream {
            echo,
            reasoning: None,
            sequence: 0,
            started: false,
            finished: false,
            text: None,
            calls: Vec::new(),
            items: Vec::new(),
            next_index: 0,
            finish: None,
            usage: None,
        }
    }

    /// Whole chat SSE events in, Responses events out.
    pub fn events(&mut self, chat: &[u8], out: &mut Vec<u8>) {
        for e in crate::sse::events_in(chat) {
            self.event(&e.data, out);
        }
    }

    /// The chat stream stopped without `[DONE]` (a guardrail ended it): close what is open and
    /// end as incomplete.
    pub fn close(&mut self, out: &mut Vec<u8>) {
        if self.finish.is_none() {
            self.finish = Some("content_filter".into());
        }
        self.done(out);
    }

    fn event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.start(out);
        if data.trim_ascii() == b"[DONE]" {
            self.done(out);
            return;
        }
        let mut copy = data.to_vec();
        let Ok(v) = simd_json::to_borrowed_value(&mut copy) else {
            return;
        };
        if let Some(err) = v.get("error") {
            let code = str_field(err, "code")
                .unwrap_or("upstream_error")
                .to_owned();
            let message = str_field(err, "message")
                .unwrap_or("the provider failed")
                .to_owned();
            self.emit(out, "error", |o| {
                o.str("code", &code);
                o.str("message", &message);
                o.raw("param", b"null");
            });
            let mut error = Vec::with_capacity(64 + message.len());
            let mut e = Obj::new(&mut error);
            e.str("code", &code);
            e.str("message", &message);
            e.end();
            self.end_with(out, ("failed", None, Some(&error)));
            return;
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| u.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            let detail = |o: &str, k: &str| {
                u.get(o)
                    .and_then(|d| d.get(k))
                    .and_then(|x| x.as_u64())
                    .unwrap_or(0)
            };
            self.usage = Some(Usage {
                prompt: n("prompt_tokens"),
                completion: n("completion_tokens"),
                cached: detail("prompt_tokens_details", "cached_tokens"),
                reasoning: detail("completion_tokens_details", "reasoning_tokens"),
            });
        }
        let Some(choice) = crate::translate::openai_in::first_choice(&v) else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            // Reasoning (shown only where the response guard does not read answers) first.
            if let Some(t) = str_field(delta, "reasoning_content").filter(|t| !t.is_empty()) {
                self.reasoning_delta(t, out);
            }
            for block in delta
                .get("thinking_blocks")
                .and_then(|b| b.as_array())
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                self.reasoning_delta("", out);
                if let Some(r) = self.reasoning.as_mut() {
                    r.blocks.push(block.encode().into_bytes());
                }
            }
            for key in ["content", "refusal"] {
                if let Some(t) = str_field(delta, key).filter(|t| !t.is_empty()) {
                    self.text_delta(t, out);
                }
            }
            for call in delta
                .get("tool_calls")
                .and_then(|c| c.as_array())
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let index = call.get("index").and_then(|i| i.as_u64()).unwrap_or(0);
                let f = call.get("function");
                let name = f.and_then(|f| str_field(f, "name"));
                let arguments = f
                    .and_then(|f| str_field(f, "arguments"))
                    .unwrap_or_default();
                self.call_delta(index, str_field(call, "id"), name, arguments, out);
            }
        }
        if let Some(f) = str_field(choice, "finish_reason") {
            self.finish = Some(f.to_owned());
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        for kind in ["response.created", "response.in_progress"] {
            let mut response = Vec::with_capacity(512);
            let status = ("in_progress", None, None);
            write_response(&mut response, &self.echo, status, b"[]", None);
            self.emit(out, kind, |o| o.raw("response", &response));
        }
    }

    /// Reasoning text (or, with `""`, only the item's opening): a reasoning item with one
    /// summary part.
    fn reasoning_delta(&mut self, t: &str, out: &mut Vec<u8>) {
        if self.reasoning.is_none() {
            self.close_text(out);
            let output_index = self.next_index;
            self.next_index += 1;
            let id = self.reasoning_id();
            let mut item = Vec::new();
            reasoning_item(&mut item, &id, "", None);
            self.emit(out, "response.output_item.added", |o| {
                o.num("output_index", output_index as u64);
                o.raw("item", &item);
            });
            let mut part = Vec::new();
            summary_text_part(&mut part, "");
            self.emit(out, "response.reasoning_summary_part.added", |o| {
                o.str("item_id", &id);
                o.num("output_index", output_index as u64);
                o.num("summary_index", 0);
                o.raw("part", &part);
            });
            self.reasoning = Some(Reasoning {
                output_index,
                text: String::new(),
                blocks: Vec::new(),
            });
        }
        if t.is_empty() {
            return;
        }
        let id = self.reasoning_id();
        let output_index = self.reasoning.as_ref().map_or(0, |r| r.output_index);
        self.emit(out, "response.reasoning_summary_text.delta", |o| {
            o.str("item_id", &id);
            o.num("output_index", output_index as u64);
            o.num("summary_index", 0);
            o.str("delta", t);
        });
        if let Some(r) = self.reasoning.as_mut() {
            r.text.push_str(t);
        }
    }

    fn reasoning_id(&self) -> String {
        format!("rs_{}", self.echo.suffix())
    }

    fn close_reasoning(&mut self, out: &mut Vec<u8>) {
        let Some(r) = self.reasoning.take() else {
            return;
        };
        let id = self.reasoning_id();
        let index = r.output_index as u64;
        self.emit(out, "response.reasoning_summary_text.done", |o| {
            o.str("item_id", &id);
            o.num("output_index", index);
            o.num("summary_index", 0);
            o.str("text", &r.text);
        });
        let mut part = Vec::new();
        summary_text_part(&mut part, &r.text);
        self.emit(out, "response.reasoning_summary_part.done", |o| {
            o.str("item_id", &id);
            o.num("output_index", index);
            o.num("summary_index", 0);
            o.raw("part", &part);
        });
        let blocks = (!r.blocks.is_empty()).then(|| {
            let mut arr = b"[".to_vec();
            arr.extend_from_slice(&r.blocks.join(&b","[..]));
            arr.push(b']');
            arr
        });
        let mut item = Vec::new();
        reasoning_item(&mut item, &id, &r.text, blocks.as_deref());
        self.emit(out, "response.output_item.done", |o| {
            o.num("output_index", index);
            o.raw("item", &item);
        });
        self.items.push((r.output_index, item));
    }

    fn text_delta(&mut self, t: &str, out: &mut Vec<u8>) {
        self.close_reasoning(out);
        if self.text.is_none() {
            let index = self.next_index;
            self.next_index += 1;
            let id = self.message_id();
            let mut item = Vec::new();
            message_item(&mut item, &id, "in_progress", None, None);
            self.emit(out, "response.output_item.added", |o| {
                o.num("output_index", index as u64);
                o.raw("item", &item);
            });
            let mut part = Vec::new();
            output_text_part(&mut part, "");
            self.emit(out, "response.content_part.added", |o| {
                o.str("item_id", &id);
                o.num("output_index", index as u64);
                o.num("content_index", 0);
                o.raw("part", &part);
            });
            self.text = Some((index, String::new()));
        }
        let id = self.message_id();
        let index = self.text.as_ref().map_or(0, |(i, _)| *i);
        self.emit(out, "response.output_text.delta", |o| {
            o.str("item_id", &id);
            o.num("output_index", index as u64);
            o.num("content_index", 0);
            o.str("delta", t);
            o.raw("logprobs", b"[]");
        });
        if let Some((_, text)) = self.text.as_mut() {
            text.push_str(t);
        }
    }

    fn call_delta(
        &mut self,
        index: u64,
        call_id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
        out: &mut Vec<u8>,
    ) {
        if !self.calls.iter().any(|c| c.index == index) {
            self.close_reasoning(out);
            self.close_text(out);
            let call = Call {
                index,
                output_index: self.next_index,
                id: format!("fc_{}_{index}", self.echo.suffix()),
                call_id: call_id.unwrap_or_default().to_owned(),
                name: name.unwrap_or_default().to_owned(),
                arguments: String::new(),
            };
            self.next_index += 1;
            let mut item = Vec::new();
            call_item(
                &mut item,
                (&call.id, &call.call_id, &call.name),
                "",
                "in_progress",
            );
            let output_index = call.output_index as u64;
            self.calls.push(call);
            self.emit(out, "response.output_item.added", |o| {
                o.num("output_index", output_index);
                o.raw("item", &item);
            });
        }
        if arguments.is_empty() {
            return;
        }
        let Some(at) = self.calls.iter().position(|c| c.index == index) else {
            return;
        };
        self.calls[at].arguments.push_str(arguments);
        let (id, output_index) = (self.calls[at].id.clone(), self.calls[at].output_index);
        self.emit(out, "response.function_call_arguments.delta", |o| {
            o.str("item_id", &id);
            o.num("output_index", output_index as u64);
            o.str("delta", arguments);
        });
    }

    fn message_id(&self) -> String {
        format!("msg_{}", self.echo.suffix())
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some((index, text)) = self.text.take() else {
            return;
        };
        let id = self.message_id();
        self.emit(out, "response.output_text.done", |o| {
            o.str("item_id", &id);
            o.num("output_index", index as u64);
            o.num("content_index", 0);
            o.str("text", &text);
            o.raw("logprobs", b"[]");
        });
        let mut part = Vec::new();
        output_text_part(&mut part, &text);
        self.emit(out, "response.content_part.done", |o| {
            o.str("item_id", &id);
            o.num("output_index", index as u64);
            o.num("content_index", 0);
            o.raw("part", &part);
        });
        let mut item = Vec::new();
        message_item(&mut item, &id, "completed", Some(&text), None);
        self.emit(out, "response.output_item.done", |o| {
            o.num("output_index", index as u64);
            o.raw("item", &item);
        });
        self.items.push((index, item));
    }

    /// Close every open item and end the response as the chat stream's finish reason says.
    fn done(&mut self, out: &mut Vec<u8>) {
        let (status, incomplete) = status_of(self.finish.as_deref());
        self.end_with(out, (status, incomplete, None));
    }

    /// Close every open item and end the response with `status`.
    fn end_with(&mut self, out: &mut Vec<u8>, status: (&str, Option<&str>, Option<&[u8]>)) {
        if self.finished {
            return;
        }
        self.start(out);
        self.close_reasoning(out);
        self.close_text(out);
        for call in std::mem::take(&mut self.calls) {
            self.emit(out, "response.function_call_arguments.done", |o| {
                o.str("item_id", &call.id);
                o.num("output_index", call.output_index as u64);
                o.str("name", &call.name);
                o.str("arguments", &call.arguments);
            });
            let mut item = Vec::new();
            call_item(
                &mut item,
                (&call.id, &call.call_id, &call.name),
                &call.arguments,
                "completed",
            );
            self.emit(out, "response.output_item.done", |o| {
                o.num("output_index", call.output_index as u64);
                o.raw("item", &item);
            });
            self.items.push((call.output_index, item));
        }
        self.items.sort_by_key(|(i, _)| *i);
        let mut output = vec![b'['];
        for (n, (_, item)) in self.items.iter().enumerate() {
            if n > 0 {
                output.push(b',');
            }
            output.extend_from_slice(item);
        }
        output.push(b']');
        let mut response = Vec::with_capacity(512 + output.len());
        write_response(
            &mut response,
            &self.echo,
            status,
            &output,
            self.usage.as_ref(),
        );
        let kind = match status.0 {
            "completed" => "response.completed",
            "failed" => "response.failed",
            _ => "response.incomplete",
        };
        self.emit(out, kind, |o| o.raw("response", &response));
        self.finished = true;
    }

    /// One event: `event: {kind}` and its data with `type` and `sequence_number`.
    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, body: impl FnOnce(&mut Obj<'_>)) {
        let _ = write!(out, "event: {kind}\ndata: ");
        let mut o = Obj::new(out);
        json_string(o.key("type"), kind);
        body(&mut o);
        o.num("sequence_number", self.sequence);
        o.end();
        out.extend_from_slice(b"\n\n");
        self.sequence += 1;
    }

    /// The usage the chat stream reported.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }
}
