//! A Gemini `streamGenerateContent?alt=sse` stream as OpenAI chunks: a role chunk first, then
//! per event thought text as `reasoning_content` (when shown), text as content, each
//! `functionCall` part as a whole tool call with a generated id, the finish reason once the
//! candidate has one, usage from `usageMetadata`. Gemini sends no `[DONE]`: [`Stream::finish`]
//! closes the stream when the provider's ends.

use simd_json::prelude::*;

use super::{answer_parts, args_text, candidate_finish, finish_reason, thoughts, usage_of};
use crate::error::{Error, Kind, Result};
use crate::translate::openai_in as oai;
use crate::translate::{bad_event, chunk, close_stream, tool_delta, Meta, Usage};

/// Stream state: Gemini SSE events in, OpenAI chunks out.
pub struct Stream {
    meta: Meta,
    call_prefix: String,
    started: bool,
    tools: usize,
    usage: Usage,
    finished: bool,
    scratch: Vec<u8>,
}

impl Stream {
    pub fn new(meta: Meta, call_prefix: String) -> Stream {
        Stream {
            meta,
            call_prefix,
            started: false,
            tools: 0,
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
        if !self.started {
            self.started = true;
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
        if self.meta.show_reasoning {
            for thought in thoughts(&v).filter(|t| !t.is_empty()) {
                chunk(
                    out,
                    &self.meta,
                    |d| d.str("reasoning_content", thought),
                    None,
                );
            }
        }
        for part in answer_parts(&v) {
            if let Some(text) = oai::str_field(part, "text") {
                if !text.is_empty() {
                    chunk(out, &self.meta, |d| d.str("content", text), None);
                }
            } else if let Some(call) = part.get("functionCall") {
                let index = self.tools;
                self.tools += 1;
                let id = super::signature::seal(format!("call_{}_{index}", self.call_prefix), part);
                let name = oai::str_field(call, "name").unwrap_or("");
                let args = args_text(call);
                chunk(
                    out,
                    &self.meta,
                    |d| tool_delta(d, index, Some((&id, name)), &args),
                    None,
                );
            }
        }
        if let Some(u) = v.get("usageMetadata") {
            usage_of(u, &mut self.usage);
        }
        if let Some(reason) = candidate_finish(&v) {
            let finish = finish_reason(reason, self.tools > 0);
            chunk(out, &self.meta, |_| {}, Some(finish));
        }
        Ok(true)
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        close_stream(&mut self.finished, &self.meta, &self.usage, out);
    }
}
