//! Guardrails on what the provider answers, streamed or not: `response_pii` and
//! `response_secrets` (`off | flag | redact | block`).
//!
//! A stream is checked as it flows. Each content delta joins a small held-back tail; the text is
//! scanned, and everything that can no longer change is released at once — with values replaced
//! by placeholders, or up to a blocked value. Only the trailing run of characters that could still
//! be part of a value is held back (letters, digits, `@._%+-/=:`, and single spaces or dashes
//! between digit groups), at most [`MAX_HOLD`] bytes; it is released as soon as a character
//! arrives that ends it, and flushed at the end. A stream is never buffered whole.

use warden_shared::snapshot::{GuardAction, GuardrailPolicy};

use super::apply::{action_name, count_verdict, Placeholders, Verdict};
use super::engine::{Engine, Finding};
use super::Category;

/// The most bytes held back while a value might still be completing.
pub const MAX_HOLD: usize = 256;

pub struct ResponseGuard {
    pii: GuardAction,
    secrets: GuardAction,
    pending: String,
    placeholders: Placeholders,
    /// (value, placeholder) pairs from the request whose originals go back to the client.
    restore: Vec<(String, String)>,
    pub verdicts: Vec<Verdict>,
    /// The category that stopped the stream, once one did.
    pub blocked: Option<&'static str>,
    findings: Vec<Finding>,
}

impl ResponseGuard {
    /// `None` when the policy checks nothing on the response side and nothing is restored.
    pub fn for_policy(policy: &GuardrailPolicy) -> Option<ResponseGuard> {
        ResponseGuard::with_request(policy, &super::apply::Plan::default())
    }

    /// A guard that also puts back the values the request's `restore` placeholders stand for,
    /// numbering new values after the request's placeholders.
    pub fn with_request(
        policy: &GuardrailPolicy,
        request: &super::apply::Plan,
    ) -> Option<ResponseGuard> {
        let (pii, secrets) = (policy.response_pii, policy.response_secrets);
        if pii == GuardAction::Off && secrets == GuardAction::Off && request.restore.is_empty() {
            return None;
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let restore = request
            .restore
            .iter()
            .map(|(v, p)| (text(v), text(p)))
            .collect();
        Some(ResponseGuard {
            pii,
            secrets,
            pending: String::new(),
            placeholders: Placeholders::seeded(&request.replacements),
            restore,
            verdicts: Vec::new(),
            blocked: None,
            findings: Vec::new(),
        })
    }

    /// Add a content delta; returns the text that can be released now.
    pub fn push(&mut self, engine: &Engine, scratch: &hyperscan::Scratch, delta: &str) -> String {
        if self.blocked.is_some() {
            return String::new();
        }
        self.pending.push_str(delta);
        let mut hold = holdback_start(&self.pending);
        if !self.restore.is_empty() {
            hold = hold.min(partial_placeholder_start(&self.pending));
        }
        self.release(engine, scratch, hold)
    }

    /// The end of the content: release everything held.
    pub fn finish(&mut self, engine: &Engine, scratch: &hyperscan::Scratch) -> String {
        if self.blocked.is_some() {
            return String::new();
        }
        let end = self.pending.len();
        self.release(engine, scratch, end)
    }

    /// Release `pending[..cut]` (less any value that reaches past `cut`), applying the policy.
    fn release(&mut self, engine: &Engine, scratch: &hyperscan::Scratch, cut: usize) -> String {
        self.findings.clear();
        engine.scan(scratch, self.pending.as_bytes(), &mut self.findings);
        self.findings.retain(|f| f.detector().category.located());
        let mut cut = cut;
        for f in &self.findings {
            if f.end > cut {
                cut = cut.min(f.start);
            }
        }
        let mut out = String::with_capacity(cut);
        let mut at = 0;
        let findings = std::mem::take(&mut self.findings);
        for f in findings.iter().filter(|f| f.end <= cut) {
            let d = f.detector();
            let action = if d.category == Category::Pii {
                self.pii
            } else {
                self.secrets
            };
            if action == GuardAction::Off {
                continue;
            }
            count_verdict(
                &mut self.verdicts,
                d.category.name(),
                d.id,
                action_name(action),
            );
            match action {
                GuardAction::Block => {
                    out.push_str(&self.pending[at..f.start]);
                    self.blocked = Some(d.category.name());
                    self.pending.clear();
                    self.findings = findings;
                    return out;
                }
                GuardAction::Redact | GuardAction::Restore => {
                    out.push_str(&self.pending[at..f.start]);
                    let placeholder = self
                        .placeholders
                        .for_value(&self.pending.as_bytes()[f.start..f.end], d.placeholder);
                    out.push_str(&String::from_utf8_lossy(placeholder));
                    at = f.end;
                }
                GuardAction::Flag | GuardAction::Off => {}
            }
        }
        self.findings = findings;
        out.push_str(&self.pending[at..cut]);
        self.pending.drain(..cut);
        for (value, placeholder) in &self.restore {
            if out.contains(placeholder.as_str()) {
                out = out.replace(placeholder.as_str(), value);
            }
        }
        out
    }
}

/// Where an unclosed placeholder (`[EMAIL_` …) at the end starts, else the end.
fn partial_placeholder_start(text: &str) -> usize {
    let b = text.as_bytes();
    let from = b.len().saturating_sub(24);
    match b[from..].iter().rposition(|c| *c == b'[') {
        Some(i)
            if b[from + i + 1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_') =>
        {
            from + i
        }
        _ => b.len(),
    }
}

fn value_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'@' | b'.' | b'_' | b'%' | b'+' | b'-' | b'/' | b'=' | b':'
        )
}

/// Where the trailing run that could still grow into (or be) a value starts.
pub fn holdback_start(text: &str) -> usize {
    let b = text.as_bytes();
    let floor = b.len().saturating_sub(MAX_HOLD);
    let mut i = b.len();
    while i > floor {
        let c = b[i - 1];
        if value_char(c) {
            i -= 1;
            continue;
        }
        // A single space or parenthesis between digit groups keeps a number together
        // ("4111 1111", "+44 20", "(415) 555").
        let joins_digits = matches!(c, b' ' | b'(' | b')')
            && i >= 2
            && (b[i - 2].is_ascii_digit() || b[i - 2].is_ascii_uppercase() || b[i - 2] == b'+')
            && (i == b.len() || b[i].is_ascii_digit() || b[i].is_ascii_uppercase() || b[i] == b'(');
        if joins_digits {
            i -= 1;
            continue;
        }
        break;
    }
    // Stay on a character boundary.
    while i < b.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pii: GuardAction, secrets: GuardAction) -> GuardrailPolicy {
        GuardrailPolicy {
            response_pii: pii,
            response_secrets: secrets,
            ..GuardrailPolicy::default()
        }
    }

    /// Feed `text` in pieces of `step` bytes; return what was released, in order.
    fn stream(text: &str, step: usize, p: &GuardrailPolicy) -> (String, ResponseGuard) {
        let engine = Engine::new().unwrap_or_else(|e| panic!("{e}"));
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let mut g = ResponseGuard::for_policy(p).unwrap_or_else(|| panic!("active"));
        let mut out = String::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let mut j = (i + step).min(bytes.len());
            while !text.is_char_boundary(j) {
                j += 1;
            }
            out.push_str(&g.push(&engine, &scratch, &text[i..j]));
            i = j;
        }
        out.push_str(&g.finish(&engine, &scratch));
        (out, g)
    }

    const TEXT: &str = "Sure — write to jane.doe@example.com, or pay with 4111 1111 1111 1111. Thanks, jane.doe@example.com!";

    #[test]
    fn values_split_across_any_deltas_are_redacted() {
        let p = policy(GuardAction::Redact, GuardAction::Off);
        for step in [1, 2, 3, 5, 7, 13, 40, 1000] {
            let (out, g) = stream(TEXT, step, &p);
            assert_eq!(
                out, "Sure — write to [EMAIL_1], or pay with [CARD_1]. Thanks, [EMAIL_1]!",
                "step {step}"
            );
            assert_eq!(g.verdicts.iter().map(|v| v.count).sum::<u32>(), 3);
        }
    }

    #[test]
    fn a_block_releases_only_what_came_before() {
        let p = policy(GuardAction::Block, GuardAction::Off);
        for step in [1, 4, 1000] {
            let (out, g) = stream(TEXT, step, &p);
            assert_eq!(out, "Sure — write to ", "step {step}");
            assert_eq!(g.blocked, Some("pii"));
        }
    }

    #[test]
    fn ordinary_text_is_released_without_waiting() {
        let engine = Engine::new().unwrap_or_else(|e| panic!("{e}"));
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let mut g = ResponseGuard::for_policy(&policy(GuardAction::Redact, GuardAction::Redact))
            .unwrap_or_else(|| panic!());
        assert_eq!(g.push(&engine, &scratch, "Hello there, "), "Hello there, ");
        // A word in progress is held until it ends.
        assert_eq!(g.push(&engine, &scratch, "how are yo"), "how are ");
        assert_eq!(g.push(&engine, &scratch, "u? "), "you? ");
    }
}

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
    pub fn filter_chunk(
        &mut self,
        engine: &Engine,
        scratch: &hyperscan::Scratch,
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
    fn emit(
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
    pub fn filter_body(
        &mut self,
        engine: &Engine,
        scratch: &hyperscan::Scratch,
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
            let mut g = ResponseGuard::with_request(&policy, &request).unwrap_or_else(|| panic!());
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
