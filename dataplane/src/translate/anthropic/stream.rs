//! An Anthropic Messages event stream as OpenAI chunks, event by event: `text_delta` →
//! content, `tool_use` blocks → tool calls (a running index, not the block index) with
//! `input_json_delta` as argument text, the JSON tool's input as content (structured output),
//! `message_delta` → the finish reason and usage, `message_stop` → the end (usage chunk,
//! `[DONE]`). `thinking_delta` → `reasoning_content`; at its `signature_delta` the whole block,
//! signed, as `thinking_blocks` (what the client sends back on its next turn); a
//! `redacted_thinking` block as it came (`thinking.rs`). `ping` and unknown events are ignored;
//! an `error` event ends the stream.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::{finish_reason, usage_of, JSON_TOOL};
use crate::error::{Error, Kind, Result};
use crate::translate::json::{Arr, Obj};
use crate::translate::openai_in as oai;
use crate::translate::{bad_event, chunk, close_stream, tool_delta, Meta, Usage};

/// Stream state: Anthropic events in, OpenAI chunks out.
pub struct Stream {
    meta: Meta,
    /// Content-block index → OpenAI tool-call index, for tool_use blocks.
    tool_blocks: Vec<(u64, usize)>,
    /// The content block of the JSON tool's call, whose input streams as content.
    json_block: Option<u64>,
    /// The thinking block being streamed: its text so far, repeated with its signature.
    thinking: String,
    usage: Usage,
    finished: bool,
    scratch: Vec<u8>,
}

impl Stream {
    pub fn new(meta: Meta) -> Stream {
        Stream {
            meta,
            tool_blocks: Vec::new(),
            json_block: None,
            thinking: String::new(),
            usage: Usage::default(),
            finished: false,
            scratch: Vec::new(),
        }
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    pub fn event(&mut self, _name: Option<&[u8]>, data: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        if self.finished {
            return Ok(false);
        }
        // The parsed value borrows the buffer: take it out of `self` while the value lives.
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(data);
        let result = match simd_json::to_borrowed_value(&mut buf) {
            Ok(v) => self.apply(&v, out),
            Err(_) => Err(bad_event()),
        };
        self.scratch = buf;
        result
    }

    fn apply(&mut self, v: &Value<'_>, out: &mut Vec<u8>) -> Result<bool> {
        let index = v.get("index").and_then(|i| i.as_u64());
        match oai::str_field(v, "type").unwrap_or("") {
            "message_start" => {
                if let Some(m) = v.get("message") {
                    if let Some(id) = oai::str_field(m, "id") {
                        self.meta.id = id.to_owned();
                    }
                    if let Some(u) = m.get("usage") {
                        usage_of(u, &mut self.usage);
                    }
                }
                chunk(
                    out,
                    &self.meta,
                    |d| {
                        d.str("role", "assistant");
                        d.str("content", "");
                    },
                    None,
                );
            }
            "content_block_start" => {
                let Some(block) = v.get("content_block") else {
                    return Ok(true);
                };
                match oai::str_field(block, "type") {
                    Some("tool_use")
                        if self.meta.json_tool
                            && oai::str_field(block, "name") == Some(JSON_TOOL) =>
                    {
                        self.json_block = index;
                    }
                    Some("tool_use") => {
                        let tool = self.tool_blocks.len();
                        self.tool_blocks.push((index.unwrap_or(0), tool));
                        let (id, name) = (
                            oai::str_field(block, "id").unwrap_or(""),
                            oai::str_field(block, "name").unwrap_or(""),
                        );
                        chunk(
                            out,
                            &self.meta,
                            |d| tool_delta(d, tool, Some((id, name)), ""),
                            None,
                        );
                    }
                    Some("text") => {
                        let text = oai::str_field(block, "text").unwrap_or("");
                        if !text.is_empty() {
                            chunk(out, &self.meta, |d| d.str("content", text), None);
                        }
                    }
                    Some("thinking") => {
                        self.thinking.clear();
                        self.thinking_text(oai::str_field(block, "thinking").unwrap_or(""), out);
                    }
                    Some("redacted_thinking") if self.meta.show_reasoning => {
                        chunk(out, &self.meta, |d| thinking_blocks(d, block), None);
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let Some(delta) = v.get("delta") else {
                    return Ok(true);
                };
                match oai::str_field(delta, "type") {
                    Some("text_delta") => {
                        let text = oai::str_field(delta, "text").unwrap_or("");
                        chunk(out, &self.meta, |d| d.str("content", text), None);
                    }
                    Some("thinking_delta") => {
                        self.thinking_text(oai::str_field(delta, "thinking").unwrap_or(""), out);
                    }
                    Some("signature_delta") if self.meta.show_reasoning => {
                        let signature = oai::str_field(delta, "signature").unwrap_or("");
                        let thinking = std::mem::take(&mut self.thinking);
                        chunk(
                            out,
                            &self.meta,
                            |d| {
                                let mut arr = Arr::new(d.key("thinking_blocks"));
                                let mut b = Obj::new(arr.item());
                                b.str("type", "thinking");
                                b.str("thinking", &thinking);
                                b.str("signature", signature);
                                b.end();
                                arr.end();
                            },
                            None,
                        );
                    }
                    Some("input_json_delta") if index.is_some() && index == self.json_block => {
                        let partial = oai::str_field(delta, "partial_json").unwrap_or("");
                        if !partial.is_empty() {
                            chunk(out, &self.meta, |d| d.str("content", partial), None);
                        }
                    }
                    Some("input_json_delta") => {
                        let partial = oai::str_field(delta, "partial_json").unwrap_or("");
                        let tool = self
                            .tool_blocks
                            .iter()
                            .find(|(b, _)| Some(*b) == index)
                            .map(|(_, t)| *t);
                        if let Some(tool) = tool {
                            chunk(
                                out,
                                &self.meta,
                                |d| tool_delta(d, tool, None, partial),
                                None,
                            );
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    usage_of(u, &mut self.usage);
                }
                let stop = v
                    .get("delta")
                    .and_then(|d| oai::str_field(d, "stop_reason"));
                if let Some(stop) = stop {
                    let mut finish = finish_reason(stop);
                    if self.json_block.is_some() && self.tool_blocks.is_empty() {
                        finish = "stop";
                    }
                    chunk(out, &self.meta, |_| {}, Some(finish));
                }
            }
            "message_stop" => {
                self.finish(out);
                return Ok(false);
            }
            "error" => {
                let e = v.get("error");
                let kind = e
                    .and_then(|e| oai::str_field(e, "type"))
                    .unwrap_or("api_error");
                let message = e.and_then(|e| oai::str_field(e, "message")).unwrap_or("");
                return Err(Error::new(
                    Kind::UpstreamClosed,
                    "provider reported an error mid-stream",
                )
                .with_detail(format!("{kind}: {message}")));
            }
            _ => {}
        }
        Ok(true)
    }

    /// Thinking text: kept for the block's signed copy, passed on as `reasoning_content`.
    fn thinking_text(&mut self, text: &str, out: &mut Vec<u8>) {
        if !self.meta.show_reasoning || text.is_empty() {
            return;
        }
        self.thinking.push_str(text);
        chunk(out, &self.meta, |d| d.str("reasoning_content", text), None);
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        close_stream(&mut self.finished, &self.meta, &self.usage, out);
    }
}

/// A delta with one `thinking_blocks` entry, the block as Anthropic sent it.
fn thinking_blocks(d: &mut Obj<'_>, block: &Value<'_>) {
    let mut arr = Arr::new(d.key("thinking_blocks"));
    super::thinking::write_block(arr.item(), block);
    arr.end();
}
