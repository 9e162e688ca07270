//! Chat chunks as Anthropic's event stream, written as they come: `message_start` first; text
//! deltas in a text block, each tool call in a `tool_use` block of its own (its arguments as
//! `input_json_delta`), each block closed before the next opens; at `[DONE]` the open block's
//! `content_block_stop`, `message_delta` with the stop reason and the usage, `message_stop`.
//! Reasoning deltas are not passed on (Anthropic's thinking is signed; a chat model's is not).

use simd_json::prelude::*;

use super::answer::{stop_reason, write_usage};
use super::Echo;
use crate::sse::events_in;
use crate::translate::json::Obj;
use crate::translate::openai_in::{first_choice, str_field};
use crate::translate::{openai_usage, Usage};

/// Stream state: chat chunks in, Anthropic events out.
pub struct Stream {
    echo: Echo,
    started: bool,
    /// The open block: its index and, for a tool use, the chat tool call's index.
    open: Option<(u64, Option<u64>)>,
    next_block: u64,
    stop: &'static str,
    usage: Usage,
    finished: bool,
    scratch: Vec<u8>,
}

impl Stream {
    pub fn new(echo: Echo) -> Stream {
        Stream {
            echo,
            started: false,
            open: None,
            next_block: 0,
            stop: "end_turn",
            usage: Usage::default(),
            finished: false,
            scratch: Vec::new(),
        }
    }

    /// Whole chat SSE events (`data: …`, `data: [DONE]`) → Anthropic events appended to `out`.
    pub fn events(&mut self, chat: &[u8], out: &mut Vec<u8>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for e in events_in(chat) {
            if self.finished {
                break;
            }
            if &*e.data == b"[DONE]" {
                self.close(out);
                continue;
            }
            scratch.clear();
            scratch.extend_from_slice(&e.data);
            if let Some(u) = openai_usage(&scratch) {
                self.usage = u;
            }
            if let Ok(v) = simd_json::to_borrowed_value(&mut scratch) {
                self.chunk(&v, out);
            }
        }
        self.scratch = scratch;
    }

    /// One chat chunk.
    fn chunk(&mut self, v: &simd_json::BorrowedValue<'_>, out: &mut Vec<u8>) {
        if let Some(err) = v.get("error") {
            let message = str_field(err, "message").unwrap_or("provider error");
            self.failed(out, message);
            return;
        }
        if !self.started {
            self.start(out);
        }
        let Some(choice) = first_choice(v) else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            for text in [str_field(delta, "content"), str_field(delta, "refusal")]
                .into_iter()
                .flatten()
                .filter(|t| !t.is_empty())
            {
                if self.open.is_none_or(|(_, tool)| tool.is_some()) {
                    self.open_block(out, None, |b| {
                        b.str("type", "text");
                        b.str("text", "");
                    });
                }
                self.delta(out, |d| {
                    d.str("type", "text_delta");
                    d.str("text", text);
                });
            }
            let calls = delta
                .get("tool_calls")
                .and_then(|c| c.as_array())
                .map(Vec::as_slice)
                .unwrap_or_default();
            for call in calls {
                let index = call.get("index").and_then(|i| i.as_u64()).unwrap_or(0);
                let f = call.get("function");
                if let Some(id) = str_field(call, "id") {
                    let name = f.and_then(|f| str_field(f, "name")).unwrap_or_default();
                    self.open_block(out, Some(index), |b| {
                        b.str("type", "tool_use");
                        b.str("id", id);
                        b.str("name", name);
                        b.raw("input", b"{}");
                    });
                }
                let args = f
                    .and_then(|f| str_field(f, "arguments"))
                    .unwrap_or_default();
                if !args.is_empty() && self.open.is_some_and(|(_, t)| t == Some(index)) {
                    self.delta(out, |d| {
                        d.str("type", "input_json_delta");
                        d.str("partial_json", args);
                    });
                }
            }
            if str_field(delta, "refusal").is_some_and(|r| !r.is_empty()) {
                self.stop = "refusal";
            }
        }
        if let Some(finish) = str_field(choice, "finish_reason") {
            if self.stop != "refusal" {
                self.stop = stop_reason(finish);
            }
        }
    }

    /// End the message (the chat stream's `[DONE]`, or a guardrail that stopped it): the open
    /// block closed, the stop reason and usage, `message_stop`. Once only.
    pub fn close(&mut self, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        if !self.started {
            self.start(out);
        }
        self.close_block(out);
        event(out, "message_delta", |o| {
            o.str("type", "message_delta");
            let mut d = Obj::new(o.key("delta"));
            d.str("stop_reason", self.stop);
            d.raw("stop_sequence", b"null");
            d.end();
            write_usage(o, &self.usage);
        });
        event(out, "message_stop", |o| o.str("type", "message_stop"));
    }

    /// A guardrail stopped the answer: it ends as refused.
    pub fn stopped(&mut self, out: &mut Vec<u8>) {
        if !self.finished {
            self.stop = "refusal";
        }
        self.close(out);
    }

    /// The stream broke off: Anthropic's error event ends it.
    pub fn failed(&mut self, out: &mut Vec<u8>, message: &str) {
        if !std::mem::replace(&mut self.finished, true) {
            error(out, message);
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        self.started = true;
        let echo = &self.echo;
        event(out, "message_start", |o| {
            o.str("type", "message_start");
            let mut m = Obj::new(o.key("message"));
            m.str("id", &echo.id);
            m.str("type", "message");
            m.str("role", "assistant");
            m.str("model", &echo.model);
            m.raw("content", b"[]");
            m.raw("stop_reason", b"null");
            m.raw("stop_sequence", b"null");
            write_usage(&mut m, &Usage::default());
            m.end();
        });
    }

    fn open_block(
        &mut self,
        out: &mut Vec<u8>,
        tool: Option<u64>,
        block: impl FnOnce(&mut Obj<'_>),
    ) {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, tool));
        event(out, "content_block_start", |o| {
            o.str("type", "content_block_start");
            o.num("index", index);
            let mut b = Obj::new(o.key("content_block"));
            block(&mut b);
            b.end();
        });
    }

    fn delta(&mut self, out: &mut Vec<u8>, delta: impl FnOnce(&mut Obj<'_>)) {
        let Some((index, _)) = self.open else {
            return;
        };
        event(out, "content_block_delta", |o| {
            o.str("type", "content_block_delta");
            o.num("index", index);
            let mut d = Obj::new(o.key("delta"));
            delta(&mut d);
            d.end();
        });
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((index, _)) = self.open.take() {
            event(out, "content_block_stop", |o| {
                o.str("type", "content_block_stop");
                o.num("index", index);
            });
        }
    }
}

/// One event: `event: NAME`, its data written by `data`.
fn event(out: &mut Vec<u8>, name: &str, data: impl FnOnce(&mut Obj<'_>)) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    let mut o = Obj::new(out);
    data(&mut o);
    o.end();
    out.extend_from_slice(b"\n\n");
}

/// Anthropic's error event.
fn error(out: &mut Vec<u8>, message: &str) {
    out.extend_from_slice(b"event: error\ndata: ");
    crate::http::respond::anthropic_error_body(out, "api_error", message);
    out.extend_from_slice(b"\n\n");
}
