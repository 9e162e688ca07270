//! A Gemini `streamGenerateContent?alt=sse` stream as OpenAI chunks: per candidate (one choice
//! each, numbered by the candidate's index) a role chunk first, then per event thought text as
//! `reasoning_content` (when shown), text as content, each `functionCall` part as a whole tool
//! call with a generated id, the finish reason once the candidate has one; usage from
//! `usageMetadata`. Gemini sends no `[DONE]`: [`Stream::finish`] closes the stream when the
//! provider's ends.

use simd_json::prelude::*;

use super::answer::{args_text, call_id, candidates, finish_reason, usage_of};
use super::MAX_CANDIDATES;
use crate::error::{Error, Kind, Result};
use crate::translate::openai_in as oai;
use crate::translate::{bad_event, chunk_of, close_stream, tool_delta, Meta, Usage};

/// Stream state: Gemini SSE events in, OpenAI chunks out.
pub struct Stream {
    meta: Meta,
    call_prefix: String,
    /// Per choice: its role chunk went out, and how many tool calls it made.
    choices: [Choice; MAX_CANDIDATES as usize],
    usage: Usage,
    finished: bool,
    scratch: Vec<u8>,
}

#[derive(Clone, Copy, Default)]
struct Choice {
    started: bool,
    tools: usize,
}

impl Stream {
    pub fn new(meta: Meta, call_prefix: String) -> Stream {
        Stream {
            meta,
            call_prefix,
            choices: Default::default(),
            usage: Usage::default(),
            finished: false,
            scratch: Vec::new(),
        }
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    pub fn event(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        if self.finished {
            return Ok(false);
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(data);
        let v = simd_json::to_borrowed_value(&mut self.scratch).map_err(|_| bad_event())?;
        if let Some(e) = v.get("error") {
            let status = oai::str_field(e, "status").unwrap_or("UNKNOWN");
            let message = oai::str_field(e, "message").unwrap_or("");
            return Err(Error::new(
                Kind::UpstreamClosed,
                "provider reported an error mid-stream",
            )
            .with_detail(format!("{status}: {message}")));
        }
        let list = candidates(&v)?;
        if !self.choices[0].started && list.is_empty() {
            // The first event has no candidate yet: the answer starts all the same.
            self.choices[0].started = true;
            chunk_of(out, &self.meta, 0, role, None);
        }
        for c in &list {
            let index = c.index;
            let meta = &self.meta;
            let choice = &mut self.choices[index];
            if !choice.started {
                choice.started = true;
                chunk_of(out, meta, index, role, None);
            }
            if meta.show_reasoning {
                for thought in c.thoughts().filter(|t| !t.is_empty()) {
                    chunk_of(
                        out,
                        meta,
                        index,
                        |d| d.str("reasoning_content", thought),
                        None,
                    );
                }
            }
            for part in c.answer_parts() {
                if let Some(text) = oai::str_field(part, "text") {
                    if !text.is_empty() {
                        chunk_of(out, meta, index, |d| d.str("content", text), None);
                    }
                } else if let Some(call) = part.get("functionCall") {
                    let n = choice.tools;
                    choice.tools += 1;
                    let id = call_id(&self.call_prefix, index, n, part);
                    let name = oai::str_field(call, "name").unwrap_or("");
                    let args = args_text(call);
                    let start = Some((id.as_str(), name));
                    chunk_of(out, meta, index, |d| tool_delta(d, n, start, &args), None);
                }
            }
            if let Some(reason) = c.finish {
                let finish = finish_reason(reason, choice.tools > 0);
                chunk_of(out, meta, index, |_| {}, Some(finish));
            }
        }
        if let Some(u) = v.get("usageMetadata") {
            usage_of(u, &mut self.usage);
        }
        Ok(true)
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        close_stream(&mut self.finished, &self.meta, &self.usage, out);
    }
}

fn role(d: &mut crate::translate::json::Obj<'_>) {
    d.str("role", "assistant");
    d.str("content", "");
}
