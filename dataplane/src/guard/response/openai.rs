//! The OpenAI dialect's side of response checks: streamed chunks and whole answers rewritten
//! through the [`ResponseGuard`].

use super::{Engine, ResponseGuard};

/// What filtering one streamed chunk decided.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    Continue,
    /// A blocked value: the stream has been ended with `content_filter` (and an error event).
    Blocked,
}

impl ResponseGuard {
    /// One OpenAI chunk's data (`{...}` or `[DONE]`) → the events to send instead, appended to
    /// `out`. Content is released through the guard; held text is flushed before the finish
    /// chunk and before `[DONE]`.
    pub(super) fn filter_openai_chunk(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        data: &[u8],
        template: &mut Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> ChunkOutcome {
        use simd_json::prelude::*;
        if data == b"[DONE]" {
            let rest = self.finish(engine, scratch);
            if let Some(outcome) = self.emit(&rest, template, out) {
                return outcome;
            }
            out.extend_from_slice(b"data: [DONE]\n\n");
            return ChunkOutcome::Continue;
        }
        let mut copy = data.to_vec();
        let Ok(mut v) = simd_json::to_borrowed_value(&mut copy) else {
            // Not a chunk we understand (an error event): pass it on.
            event(out, data);
            return ChunkOutcome::Continue;
        };
        let choice = v
            .get("choices")
            .and_then(|c| c.as_array())
            .and_then(|c| c.first());
        let content = choice
            .and_then(|c| c.get("delta"))
            .and_then(|d| d.get("content"))
            .and_then(|c| c.as_str())
            .map(str::to_owned);
        let finishing = choice
            .and_then(|c| c.get("finish_reason"))
            .is_some_and(|f| !f.is_null());
        if template.is_none() && choice.is_some() {
            *template = Some(data.to_vec());
        }
        if let Some(content) = content {
            let released = self.push(engine, scratch, &content);
            if let Some(delta) = v
                .get_mut("choices")
                .and_then(|c| c.get_idx_mut(0))
                .and_then(|c| c.get_mut("delta"))
            {
                if let Some(slot) = delta.get_mut("content") {
                    *slot = simd_json::BorrowedValue::from(released);
                }
            }
        }
        if self.blocked.is_some() {
            let text = v.encode();
            event(out, text.as_bytes());
            return self.end_blocked(template, out);
        }
        if finishing {
            let rest = self.finish(engine, scratch);
            if let Some(outcome) = self.emit(&rest, template, out) {
                return outcome;
            }
        }
        let text = v.encode();
        event(out, text.as_bytes());
        ChunkOutcome::Continue
    }

    /// Send `text` as a content chunk shaped like `template`; on a block, end the stream.
    pub(super) fn emit(
        &mut self,
        text: &str,
        template: &Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Option<ChunkOutcome> {
        if !text.is_empty() {
            if let Some(chunk) = content_chunk(template, Some(text), None) {
                event(out, &chunk);
            }
        }
        self.blocked.map(|_| self.end_blocked(template, out))
    }

    fn end_blocked(&self, template: &Option<Vec<u8>>, out: &mut Vec<u8>) -> ChunkOutcome {
        if let Some(chunk) = content_chunk(template, None, Some("content_filter")) {
            event(out, &chunk);
        }
        let category = self.blocked.unwrap_or("guardrail");
        let mut e = b"data: ".to_vec();
        crate::http::respond::error_body(
            &mut e,
            &format!("the response was stopped by a guardrail: {category}"),
            "invalid_request_error",
            None,
            "guardrail_blocked",
        );
        e.extend_from_slice(b"\n\n");
        out.extend_from_slice(&e);
        ChunkOutcome::Blocked
    }

    /// A whole OpenAI completion: every choice's content checked; a block empties it and sets
    /// `finish_reason` to `content_filter`. `None` when nothing changed.
    pub(super) fn filter_openai_body(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        use simd_json::prelude::*;
        let mut copy = body.to_vec();
        let mut v = simd_json::to_borrowed_value(&mut copy).ok()?;
        let mut changed = false;
        let n = v
            .get("choices")
            .and_then(|c| c.as_array())
            .map_or(0, Vec::len);
        for i in 0..n {
            let Some(choice) = v.get_mut("choices").and_then(|c| c.get_idx_mut(i)) else {
                continue;
            };
            let Some(content) = choice
                .get("message")
                .and_then(|m| m.get("content"))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
            else {
                continue;
            };
            let mut released = self.push(engine, scratch, &content);
            released.push_str(&self.finish(engine, scratch));
            let blocked = self.blocked.is_some();
            if released != content || blocked {
                changed = true;
                if let Some(slot) = choice.get_mut("message").and_then(|m| m.get_mut("content")) {
                    *slot = simd_json::BorrowedValue::from(if blocked {
                        String::new()
                    } else {
                        released
                    });
                }
                if blocked {
                    if let Some(f) = choice.get_mut("finish_reason") {
                        *f = simd_json::BorrowedValue::from("content_filter");
                    }
                }
            }
            self.blocked = None;
        }
        changed.then(|| v.encode().into_bytes())
    }
}

fn event(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

/// A chunk shaped like `template` (id, created, model) with one delta.
fn content_chunk(
    template: &Option<Vec<u8>>,
    content: Option<&str>,
    finish: Option<&str>,
) -> Option<Vec<u8>> {
    use simd_json::prelude::*;
    let mut copy = template.clone()?;
    let t = simd_json::to_borrowed_value(&mut copy).ok()?;
    let meta = crate::translate::Meta {
        id: t
            .get("id")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_owned(),
        model: t.get("model").and_then(|x| x.as_str()).unwrap_or("").into(),
        created: t.get("created").and_then(|x| x.as_u64()).unwrap_or(0),
        include_usage: false,
    };
    let mut out = Vec::new();
    crate::translate::chunk(
        &mut out,
        &meta,
        |d| {
            if let Some(c) = content {
                d.str("content", c);
            }
        },
        finish,
    );
    // `chunk` writes a whole event; return only its data.
    let data = out.strip_prefix(b"data: ")?.strip_suffix(b"\n\n")?.to_vec();
    Some(data)
}

#[cfg(test)]
mod restore_tests {
    use super::*;
    use crate::guard::apply::Plan;
    use warden_shared::snapshot::{GuardAction, GuardrailPolicy};

    #[test]
    fn request_placeholders_come_back_as_the_originals_even_split_across_deltas() {
        let engine = Engine::new().unwrap_or_else(|e| panic!("{e}"));
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let request = Plan {
            replacements: vec![(b"jane@example.com".to_vec(), b"[EMAIL_1]".to_vec())],
            restore: vec![(b"jane@example.com".to_vec(), b"[EMAIL_1]".to_vec())],
            ..Plan::default()
        };
        let policy = GuardrailPolicy {
            response_pii: GuardAction::Redact,
            ..GuardrailPolicy::default()
        };
        let answer = "Dear [EMAIL_1], we also wrote to bob@example.org and [EMAIL_1].";
        for step in [1, 2, 3, 5, 8, 1000] {
            let mut g =
                ResponseGuard::with_request(&policy, &request, None).unwrap_or_else(|| panic!());
            let mut out = String::new();
            let mut i = 0;
            while i < answer.len() {
                let j = (i + step).min(answer.len());
                out.push_str(&g.push(&engine, &scratch, &answer[i..j]));
                i = j;
            }
            out.push_str(&g.finish(&engine, &scratch));
            assert_eq!(
                out, "Dear jane@example.com, we also wrote to [EMAIL_2] and jane@example.com.",
                "step {step}"
            );
        }
    }
}
