//! A whole Anthropic message (not streamed) through the response guard: each text block, tool
//! input, thinking (while the guard reads answers), server tool result and citation.

use simd_json::prelude::*;
use simd_json::BorrowedValue;

use super::super::{Engine, ResponseGuard};

impl ResponseGuard {
    /// A whole Anthropic message. `None` when nothing changed.
    pub(in crate::guard::response) fn filter_anthropic_body(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let mut copy = body.to_vec();
        let mut v = simd_json::to_borrowed_value(&mut copy).ok()?;
        let blocks = v
            .get("content")
            .and_then(|c| c.as_array())
            .map_or(0, Vec::len);
        let mut changed = false;
        let mut blocked = false;
        for i in 0..blocks {
            let Some(block) = v.get_mut("content").and_then(|c| c.get_idx_mut(i)) else {
                continue;
            };
            // A tool call's input: every string in it, checked whole.
            if block.get("type").and_then(|t| t.as_str()) == Some("tool_use") {
                changed |= self.check_fields(engine, scratch, block);
                blocked |= self.blocked.take().is_some();
                continue;
            }
            // Thinking, while the guard reads answers: checked whole, nothing put back.
            if block.get("type").and_then(|t| t.as_str()) == Some("thinking")
                && self.reads_answers()
            {
                let thinking = block
                    .get("thinking")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_owned();
                let mut released = self.in_thinking(i as u64, |g| {
                    let mut r = g.push(engine, scratch, &thinking);
                    r.push_str(&g.finish(engine, scratch));
                    r
                });
                self.fields.clear();
                if self.blocked.take().is_some() {
                    blocked = true;
                    released.clear();
                }
                if released != thinking {
                    changed = true;
                    if let Some(slot) = block.get_mut("thinking") {
                        *slot = BorrowedValue::from(released);
                    }
                }
                continue;
            }
            match block.get("type").and_then(|t| t.as_str()) {
                Some("text") => {
                    // Its citations quote documents and pages: each checked whole.
                    let n = block
                        .get("citations")
                        .and_then(|c| c.as_array())
                        .map_or(0, Vec::len);
                    for at in 0..n {
                        if let Some(citation) =
                            block.get_mut("citations").and_then(|c| c.get_idx_mut(at))
                        {
                            changed |= self.check_whole(engine, scratch, citation);
                        }
                    }
                    blocked |= self.blocked.take().is_some();
                }
                // Signed (thinking read above when the guard reads answers) or opaque.
                Some("thinking" | "redacted_thinking") | None => continue,
                Some(_) => {
                    // A server tool's result, or a block of a newer kind: every string checked.
                    changed |= self.check_whole(engine, scratch, block);
                    blocked |= self.blocked.take().is_some();
                    continue;
                }
            }
            let Some(text) = block
                .get("text")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
            else {
                continue;
            };
            let mut released = self.push(engine, scratch, &text);
            released.push_str(&self.finish(engine, scratch));
            blocked |= self.blocked.is_some();
            if released != text || blocked {
                changed = true;
                if let Some(slot) = block.get_mut("text") {
                    *slot = BorrowedValue::from(if blocked { String::new() } else { released });
                }
            }
            self.blocked = None;
        }
        if blocked {
            if let Some(slot) = v.get_mut("stop_reason") {
                *slot = BorrowedValue::from("refusal");
            }
        }
        changed.then(|| v.encode().into_bytes())
    }
}
