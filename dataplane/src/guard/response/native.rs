//! Response checks on Anthropic's native route: messages, whole and streamed, rewritten through
//! the [`ResponseGuard`] in Anthropic's dialect (Gemini's: `response/gemini.rs`).
//!
//! Anthropic: the text of `text_delta` events is released through the guard; what is held is
//! flushed as one more `text_delta` before the block's `content_block_stop` (or before
//! `message_delta` / `message_stop`). A block ends the stream with `content_block_stop`, a
//! `message_delta` whose `stop_reason` is `refusal`, and an `error` event. Whole messages: each
//! text block checked; a block empties the text and sets `stop_reason` to `refusal`.
//!
//! Besides the text: a tool's input (`input_json_delta`) and, while the guard reads answers,
//! thinking (`thinking_delta`, nothing put back in it: it is signed) each go through a stream per
//! block (`native/blocks.rs`); server tool results and citations are checked whole. A block start
//! that already carries text or thinking (Anthropic sends them empty) starts its block's stream
//! with it; a tool's input in a start is checked whole. Whole messages: `native/whole.rs`.

use simd_json::prelude::*;
use simd_json::BorrowedValue;

use super::{Engine, ResponseGuard};

mod blocks;
mod whole;
use blocks::{thinking_delta, BlockStream, Delta};

/// Where a `content_block_delta`'s `delta.text` string sits (quotes included), when each key on
/// the way is there once and unescaped.
fn anthropic_text_span(data: &[u8]) -> Option<std::ops::Range<usize>> {
    use crate::route::unique_member;
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    let delta = unique_member(data, start, b"delta")?;
    let text = unique_member(data, delta.start, b"text")?;
    (data.get(text.start) == Some(&b'"')).then_some(text)
}

impl ResponseGuard {
    /// One Anthropic event → the events to send instead, appended to `out`. Returns true when a
    /// guardrail stopped the answer.
    pub(super) fn filter_anthropic_event(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        name: &[u8],
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let mut copy = data.to_vec();
        let Ok(mut v) = simd_json::to_borrowed_value(&mut copy) else {
            named_event(out, name, data);
            return false;
        };
        let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let index = v.get("index").and_then(|i| i.as_u64());
        match kind {
            "content_block_delta" => {
                let text = v
                    .get("delta")
                    .filter(|d| d.get("type").and_then(|t| t.as_str()) == Some("text_delta"))
                    .and_then(|d| d.get("text"))
                    .and_then(|t| t.as_str())
                    .map(str::to_owned);
                let Some(text) = text else {
                    if self.reads_answers() {
                        if let (Some(thinking), Some(index)) = (thinking_delta(&v), index) {
                            return self.filter_thinking(
                                engine, scratch, name, data, &mut v, index, &thinking, out,
                            );
                        }
                    }
                    return self.filter_tool_input(engine, scratch, name, data, &mut v, out);
                };
                let index = index.unwrap_or(0);
                self.open_block = Some(index);
                let released = self.push(engine, scratch, &text);
                // As the provider sent it when nothing changed, the text spliced in when it did;
                // re-encoded only when the text cannot be located in the bytes.
                if released == text {
                    named_event(out, name, data);
                } else if !released.is_empty() {
                    match anthropic_text_span(data) {
                        Some(span) => {
                            named_event(out, name, &super::splice_string(data, span, &released))
                        }
                        None => {
                            if let Some(slot) = v.get_mut("delta").and_then(|d| d.get_mut("text")) {
                                *slot = BorrowedValue::from(released);
                            }
                            named_event(out, name, v.encode().as_bytes());
                        }
                    }
                }
                if self.blocked.is_some() {
                    return self.end_anthropic(out);
                }
                false
            }
            "content_block_start" => {
                if let Some(blocked) = self.filter_start(engine, scratch, name, data, &mut v, out) {
                    return blocked;
                }
                self.check_other_block(engine, scratch, name, data, &mut v, "content_block", out)
            }
            "content_block_stop" | "message_delta" | "message_stop" => {
                let block = index.filter(|_| kind == "content_block_stop");
                for stream in [BlockStream::ToolInput, BlockStream::Thinking] {
                    if self.flush_blocks(engine, scratch, stream, block, out) {
                        return true;
                    }
                }
                if self.flush_anthropic(engine, scratch, out) {
                    return true;
                }
                named_event(out, name, data);
                false
            }
            _ => {
                named_event(out, name, data);
                false
            }
        }
    }

    /// An `input_json_delta` (a tool call's input, streamed as JSON text) through the stream of
    /// its block: held, redacted and restored like answer text. True on a block.
    fn filter_tool_input(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        name: &[u8],
        data: &[u8],
        v: &mut BorrowedValue<'_>,
        out: &mut Vec<u8>,
    ) -> bool {
        let partial = v
            .get("delta")
            .filter(|d| d.get("type").and_then(|t| t.as_str()) == Some("input_json_delta"))
            .and_then(|d| d.get("partial_json"))
            .and_then(|t| t.as_str())
            .map(str::to_owned);
        let (Some(partial), Some(index)) = (partial, v.get("index").and_then(|i| i.as_u64()))
        else {
            return self.check_other_block(engine, scratch, name, data, v, "delta", out);
        };
        let path = BlockStream::ToolInput.path(index);
        let released = self.in_field(&path, |g| g.push(engine, scratch, &partial));
        let delta = Delta {
            name,
            data,
            index,
            field: "partial_json",
        };
        self.send_delta(&delta, v, &partial, released, out)
    }

    /// A `content_block_delta` on its way with its `field` as released: as sent when nothing
    /// changed, re-encoded when something did, not at all while everything is held; on a block,
    /// the stream's end. True on a block.
    fn send_delta(
        &mut self,
        d: &Delta<'_>,
        v: &mut BorrowedValue<'_>,
        came: &str,
        released: String,
        out: &mut Vec<u8>,
    ) -> bool {
        if released == came {
            named_event(out, d.name, d.data);
        } else if !released.is_empty() {
            if let Some(slot) = v.get_mut("delta").and_then(|x| x.get_mut(d.field)) {
                *slot = BorrowedValue::from(released);
            }
            named_event(out, d.name, v.encode().as_bytes());
        }
        if self.blocked.is_some() {
            self.open_block = Some(d.index);
            return self.end_anthropic(out);
        }
        false
    }

    /// A block start or a delta of a kind read nowhere else (a server tool's result — web
    /// search, web fetch, code execution, an MCP server's answer — or a citation), its `key`
    /// member's every string checked whole; as sent when nothing changed. True on a block.
    #[allow(clippy::too_many_arguments)]
    fn check_other_block(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        name: &[u8],
        data: &[u8],
        v: &mut BorrowedValue<'_>,
        key: &str,
        out: &mut Vec<u8>,
    ) -> bool {
        let other = v
            .get(key)
            .and_then(|b| b.get("type"))
            .and_then(|t| t.as_str())
            .is_some_and(|t| {
                !matches!(
                    t,
                    "text"
                        | "thinking"
                        | "redacted_thinking"
                        | "tool_use"
                        | "text_delta"
                        | "thinking_delta"
                        | "signature_delta"
                        | "input_json_delta"
                )
            });
        let changed = other
            && v.get_mut(key)
                .is_some_and(|b| self.check_whole(engine, scratch, b));
        if self.blocked.is_some() {
            self.open_block = v.get("index").and_then(|i| i.as_u64());
            return self.end_anthropic(out);
        }
        if changed {
            named_event(out, name, v.encode().as_bytes());
        } else {
            named_event(out, name, data);
        }
        false
    }

    /// A `content_block_start` whose block already carries its text, thinking (while the guard
    /// reads answers) or a tool's input — Anthropic sends them empty, the deltas fill them in:
    /// the text and thinking are the first piece of their block's stream, the input is checked
    /// whole. `None` when the start carries none of them; else true on a block.
    fn filter_start(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        name: &[u8],
        data: &[u8],
        v: &mut BorrowedValue<'_>,
        out: &mut Vec<u8>,
    ) -> Option<bool> {
        let index = v.get("index").and_then(|i| i.as_u64())?;
        let block = v.get("content_block")?;
        let kind = block.get("type").and_then(|t| t.as_str())?;
        let field = match kind {
            "text" => "text",
            "thinking" if self.reads_answers() => "thinking",
            "tool_use" => "input",
            _ => return None,
        };
        let came = block.get(field)?;
        if field == "input" {
            if came.as_object().is_none_or(|o| o.is_empty()) {
                return None;
            }
            let changed = v
                .get_mut("content_block")
                .and_then(|b| b.get_mut("input"))
                .is_some_and(|input| self.check_whole(engine, scratch, input));
            return Some(self.send_start(index, name, data, v, changed, out));
        }
        let came = came.as_str().filter(|t| !t.is_empty())?.to_owned();
        let released = if field == "text" {
            self.open_block = Some(index);
            self.push(engine, scratch, &came)
        } else {
            self.in_thinking(index, |g| g.push(engine, scratch, &came))
        };
        let changed = released != came;
        if changed {
            if let Some(slot) = v.get_mut("content_block").and_then(|b| b.get_mut(field)) {
                *slot = BorrowedValue::from(released);
            }
        }
        Some(self.send_start(index, name, data, v, changed, out))
    }

    /// A block start on its way, re-encoded when `changed`; on a block, the block ended and the
    /// stream with it. True on a block.
    fn send_start(
        &mut self,
        index: u64,
        name: &[u8],
        data: &[u8],
        v: &BorrowedValue<'_>,
        changed: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        if changed {
            named_event(out, name, v.encode().as_bytes());
        } else {
            named_event(out, name, data);
        }
        if self.blocked.is_some() {
            self.open_block = Some(index);
            return self.end_anthropic(out);
        }
        false
    }

    /// A `thinking_delta` through the stream of its block, while the guard reads answers:
    /// held and redacted like answer text, but with no placeholder put back (the thinking is
    /// signed as the provider wrote it; a value redacted out of it voids the signature, and the
    /// turn it is sent back in is refused by Anthropic — closed, not leaked). True on a block.
    #[allow(clippy::too_many_arguments)]
    fn filter_thinking(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        name: &[u8],
        data: &[u8],
        v: &mut BorrowedValue<'_>,
        index: u64,
        thinking: &str,
        out: &mut Vec<u8>,
    ) -> bool {
        let released = self.in_thinking(index, |g| g.push(engine, scratch, thinking));
        let delta = Delta {
            name,
            data,
            index,
            field: "thinking",
        };
        self.send_delta(&delta, v, thinking, released, out)
    }

    /// Run `f` on the thinking stream of block `index`, with no request values to put back.
    fn in_thinking<T>(&mut self, index: u64, f: impl FnOnce(&mut ResponseGuard) -> T) -> T {
        let restore = std::mem::take(&mut self.restore);
        let out = self.in_field(&BlockStream::Thinking.path(index), f);
        self.restore = restore;
        out
    }

    /// Send what `stream`'s streams hold (block `index`'s, or all of them at the message's end)
    /// as deltas of their kind. True on a block.
    fn flush_blocks(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        stream: BlockStream,
        index: Option<u64>,
        out: &mut Vec<u8>,
    ) -> bool {
        let open: Vec<u64> = match (index, stream) {
            (Some(i), _) => vec![i],
            (None, BlockStream::ToolInput) => self.tool_input_blocks(),
            (None, BlockStream::Thinking) => self.thinking_blocks(),
        };
        let (kind, field) = stream.delta();
        for i in open {
            // Thinking is signed as the provider wrote it: nothing is put back in it.
            let kept =
                matches!(stream, BlockStream::Thinking).then(|| std::mem::take(&mut self.restore));
            let rest = self.finish_field(engine, scratch, &stream.path(i));
            if let Some(restore) = kept {
                self.restore = restore;
            }
            let Some(rest) = rest else {
                continue;
            };
            if !rest.is_empty() {
                block_delta(out, i, kind, field, &rest);
            }
            if self.blocked.is_some() {
                self.open_block = Some(i);
                return self.end_anthropic(out);
            }
        }
        false
    }

    /// Send what the guard still holds as a `text_delta` of the open block. True on a block.
    pub(super) fn flush_anthropic(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(index) = self.open_block else {
            return false;
        };
        let rest = self.finish(engine, scratch);
        if !rest.is_empty() {
            block_delta(out, index, "text_delta", "text", &rest);
        }
        if self.blocked.is_some() {
            return self.end_anthropic(out);
        }
        self.open_block = None;
        false
    }

    fn end_anthropic(&mut self, out: &mut Vec<u8>) -> bool {
        let index = self.open_block.take().unwrap_or(0);
        named_event(
            out,
            b"content_block_stop",
            format!("{{\"type\":\"content_block_stop\",\"index\":{index}}}").as_bytes(),
        );
        named_event(
            out,
            b"message_delta",
            b"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"refusal\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":0}}",
        );
        let mut e = Vec::with_capacity(128);
        crate::http::respond::anthropic_error_body(
            &mut e,
            "invalid_request_error",
            &blocked_message(self.blocked),
        );
        named_event(out, b"error", &e);
        true
    }
}
pub(super) fn blocked_message(category: Option<&'static str>) -> String {
    format!(
        "the response was stopped by a guardrail (guardrail_blocked): {}",
        category.unwrap_or("guardrail")
    )
}

/// A `content_block_delta` event for block `index`: a delta of `kind` carrying `text` as `field`.
fn block_delta(out: &mut Vec<u8>, index: u64, kind: &str, field: &str, text: &str) {
    let mut e = Vec::with_capacity(text.len() + 96);
    e.extend_from_slice(b"{\"type\":\"content_block_delta\",\"index\":");
    e.extend_from_slice(index.to_string().as_bytes());
    e.extend_from_slice(format!(",\"delta\":{{\"type\":\"{kind}\",\"{field}\":").as_bytes());
    crate::http::respond::json_string(&mut e, text);
    e.extend_from_slice(b"}}");
    named_event(out, b"content_block_delta", &e);
}

fn named_event(out: &mut Vec<u8>, name: &[u8], data: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name);
    out.push(b'\n');
    super::event(out, data);
}

#[cfg(test)]
mod tests;
