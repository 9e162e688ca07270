//! The OpenAI dialect's side of response checks: streamed chunks and whole answers rewritten
//! through the [`ResponseGuard`].
//!
//! A stream's chunks carry one or more choices, each named by its `index` (several when the
//! request asked for `n`): each choice's deltas run through that choice's own stream
//! (`choices.rs`). A choice's held text goes out in a chunk of its own, with its index, before
//! the chunk that finishes it, or before `[DONE]`; text in the finishing chunk itself is
//! released whole into that chunk, so nothing arrives out of order. While the guard reads
//! answers, reasoning and log probabilities (token by token, the text as written) are withheld.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::{event, ChunkOutcome, Engine, ResponseGuard};
use crate::guard::engine::Scratch;

/// What reading one choice of a chunk did.
struct ChoiceStep {
    /// Something other than the content changed (reasoning dropped, another field rewritten).
    changed: bool,
    /// The content as released, when it differs from what came.
    content: Option<String>,
    /// The chunk carries the choice's `finish_reason`.
    finishing: bool,
}

impl ResponseGuard {
    /// One OpenAI chunk's data (`{...}` or `[DONE]`) → the events to send instead, appended to
    /// `out`. Each choice's content and other fields are released through its stream; held text
    /// is flushed before the choice's finish chunk and before `[DONE]`.
    pub(super) fn filter_openai_chunk(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        data: &[u8],
        template: &mut Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> ChunkOutcome {
        if data == b"[DONE]" {
            if let Some(outcome) = self.flush_choices(engine, scratch, template, out) {
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
        let count = v
            .get("choices")
            .and_then(|c| c.as_array())
            .map_or(0, Vec::len);
        if template.is_none() && count > 0 {
            *template = Some(data.to_vec());
        }
        let (mut encode, mut content, mut finished, mut last) = (false, None, Vec::new(), 0);
        let mut at = 0;
        while let Some(choice) = v.get_mut("choices").and_then(|c| c.get_idx_mut(at)) {
            let index = choice
                .get("index")
                .and_then(|i| i.as_u64())
                .unwrap_or(at as u64);
            let Some(step) = self.in_choice(index, |g| g.openai_choice(engine, scratch, choice))
            else {
                // Numbered past the most choices a request may ask for: not passed on.
                if let Some(choices) = v.get_mut("choices").and_then(|c| c.as_array_mut()) {
                    choices.remove(at);
                }
                encode = true;
                continue;
            };
            encode |= step.changed;
            if step.content.is_some() {
                // One choice: its released content is spliced into the provider's bytes below;
                // several: the chunk is re-encoded.
                encode |= count > 1;
                content = step.content;
            }
            if step.finishing {
                finished.push(index);
            }
            last = index;
            at += 1;
            if self.blocked.is_some() {
                // The choices after the one that was stopped were not read: they do not go on.
                if let Some(choices) = v.get_mut("choices").and_then(|c| c.as_array_mut()) {
                    choices.truncate(at);
                }
                encode = true;
                break;
            }
        }
        // The chunk as it goes on: the provider's bytes when nothing changed (most chunks), or
        // with the one content string spliced in place; re-encoded otherwise. (No key repeats
        // in `data`: the guard made sure of that before this, so what was read is what clients
        // read.)
        let chunk: std::borrow::Cow<'_, [u8]> = match content {
            _ if encode => std::borrow::Cow::Owned(v.encode().into_bytes()),
            Some(released) => match content_span(data) {
                Some(span) => std::borrow::Cow::Owned(super::splice_string(data, span, &released)),
                None => std::borrow::Cow::Owned(v.encode().into_bytes()),
            },
            None => std::borrow::Cow::Borrowed(data),
        };
        if self.blocked.is_some() {
            event(out, &chunk);
            return self.end_blocked(last, template, out);
        }
        for index in finished {
            if let Some(outcome) = self.flush_choice(engine, scratch, index, template, out) {
                return outcome;
            }
        }
        event(out, &chunk);
        ChunkOutcome::Continue
    }

    /// One choice of a chunk through the current choice stream: its content and other fields
    /// released (whole when the chunk finishes the choice), reasoning dropped while the guard
    /// reads answers.
    fn openai_choice(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        choice: &mut Value<'_>,
    ) -> ChoiceStep {
        let finishing = choice.get("finish_reason").is_some_and(|f| !f.is_null());
        // Reasoning a provider streams beside the answer (DeepSeek's `reasoning_content`) is
        // text the guardrails do not read: while they read answers, it is not passed on.
        let mut changed = self.reads_answers() && drop_reasoning_at(choice, "delta");
        changed |= self.reads_answers() && withhold_logprobs(choice);
        let Some(delta) = choice.get_mut("delta") else {
            return ChoiceStep {
                changed,
                content: None,
                finishing,
            };
        };
        // Tool-call arguments, a refusal, a provider's own fields: each through its own stream.
        changed |= self.through_fields(engine, scratch, delta, finishing);
        let mut content = None;
        if let Some(text) = delta
            .get("content")
            .and_then(|c| c.as_str())
            .map(str::to_owned)
        {
            let mut released = self.push(engine, scratch, &text);
            if finishing {
                released.push_str(&self.finish(engine, scratch));
            }
            if released != text {
                if let Some(slot) = delta.get_mut("content") {
                    *slot = Value::from(released.clone());
                }
                content = Some(released);
            }
        }
        ChoiceStep {
            changed,
            content,
            finishing,
        }
    }

    /// Flush every choice read so far (the stream's end); on a block, end the stream.
    pub(super) fn flush_choices(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        template: &Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Option<ChunkOutcome> {
        for index in self.choice_indexes() {
            if let Some(outcome) = self.flush_choice(engine, scratch, index, template, out) {
                return Some(outcome);
            }
        }
        None
    }

    /// Send what choice `index`'s content and other fields still hold, each in a chunk shaped
    /// like `template`; on a block, end the stream.
    fn flush_choice(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        index: u64,
        template: &Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Option<ChunkOutcome> {
        let (rest, fields) = self.in_choice(index, |g| {
            (g.finish(engine, scratch), g.finish_fields(engine, scratch))
        })?;
        let deltas = (!rest.is_empty())
            .then(|| serde_json::json!({ "content": rest }))
            .into_iter()
            .chain(fields);
        for delta in deltas {
            if let Some(chunk) = chunk_like(template, index, delta, None) {
                event(out, &chunk);
            }
        }
        self.blocked.map(|_| self.end_blocked(index, template, out))
    }

    fn end_blocked(
        &self,
        index: u64,
        template: &Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> ChunkOutcome {
        if let Some(chunk) = chunk_like(
            template,
            index,
            serde_json::json!({}),
            Some("content_filter"),
        ) {
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
            if self.reads_answers() {
                changed |= drop_reasoning_at(choice, "message");
                changed |= withhold_logprobs(choice);
            }
            if let Some(message) = choice.get_mut("message") {
                changed |= self.check_fields(engine, scratch, message);
            }
            if self.blocked.is_some() {
                changed = true;
                if let Some(f) = choice.get_mut("finish_reason") {
                    *f = simd_json::BorrowedValue::from("content_filter");
                }
            }
            let Some(content) = choice
                .get("message")
                .and_then(|m| m.get("content"))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
            else {
                self.blocked = None;
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

/// Set a choice's `logprobs` to `null`; whether there were any. Each token of them is a piece
/// of the text as the provider wrote it (and its `bytes` the same again): while the guard reads
/// answers they would spell out every value it rewrote, so they are not passed on.
fn withhold_logprobs(choice: &mut Value<'_>) -> bool {
    match choice.get_mut("logprobs") {
        Some(l) if !l.is_null() => {
            *l = Value::null();
            true
        }
        _ => false,
    }
}

fn drop_reasoning_at(choice: &mut simd_json::BorrowedValue<'_>, key: &str) -> bool {
    use simd_json::prelude::*;
    let Some(fields) = choice.get_mut(key).and_then(|d| d.as_object_mut()) else {
        return false;
    };
    let reasoning = fields.remove("reasoning_content").is_some();
    let blocks = fields.remove("thinking_blocks").is_some();
    reasoning || blocks
}

/// Where `choices[0].delta.content`'s string (quotes included) sits in a chunk simd-json
/// accepted, when every key on the way is there once and unescaped (see
/// `route::unique_member`): splicing it then changes what every client's parser reads.
fn content_span(data: &[u8]) -> Option<std::ops::Range<usize>> {
    use crate::route::{first_element, unique_member};
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    let choices = unique_member(data, start, b"choices")?;
    let choice = first_element(data, choices.start)?;
    let delta = unique_member(data, choice, b"delta")?;
    let content = unique_member(data, delta.start, b"content")?;
    (data.get(content.start) == Some(&b'"')).then_some(content)
}

/// A chunk shaped like `template` (id, created, model) with one choice: `index`, `delta` and
/// `finish`.
fn chunk_like(
    template: &Option<Vec<u8>>,
    index: u64,
    delta: serde_json::Value,
    finish: Option<&str>,
) -> Option<Vec<u8>> {
    let t: serde_json::Value = serde_json::from_slice(template.as_deref()?).ok()?;
    let chunk = serde_json::json!({
        "id": t.get("id").cloned().unwrap_or_default(),
        "object": "chat.completion.chunk",
        "created": t.get("created").cloned().unwrap_or_default(),
        "model": t.get("model").cloned().unwrap_or_default(),
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    });
    serde_json::to_vec(&chunk).ok()
}

#[cfg(test)]
mod restore_tests {
    use super::*;
    use warden_shared::catalog::Dialect;

    #[test]
    fn request_placeholders_come_back_as_the_originals_even_split_across_deltas() {
        let engine = Engine::for_tests();
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let answer = "Dear [EMAIL_1], we also wrote to bob@example.org and [EMAIL_1].";
        for step in [1, 2, 3, 5, 8, 1000] {
            let mut g = crate::guard::response::tests::restoring(Dialect::OpenAi);
            let mut out = String::new();
            let mut i = 0;
            while i < answer.len() {
                let j = (i + step).min(answer.len());
                out.push_str(&g.push(engine, &scratch, &answer[i..j]));
                i = j;
            }
            out.push_str(&g.finish(engine, &scratch));
            assert_eq!(
                out, "Dear jane@example.com, we also wrote to [EMAIL_2] and jane@example.com.",
                "step {step}"
            );
        }
    }
}

#[cfg(test)]
mod chunk_tests {
    use warden_shared::catalog::Dialect;

    /// Each chunk's data through a redacting guard; the events sent instead.
    fn filter(chunks: &[&str]) -> String {
        let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::OpenAi);
        crate::guard::response::tests::through(engine, &scratch, &mut g, chunks)
    }

    fn chunk(delta: &str, finish: &str) -> String {
        format!(
            r#"{{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}],"x_extra":{{"kept":true}}}}"#
        )
    }

    #[test]
    fn chunks_go_on_as_sent_or_with_only_the_delta_spliced() {
        let first = chunk(r#"{"content":"Hello there, "}"#, "null");
        let second = chunk(r#"{"content":"write to jane.doe@exam"}"#, "null");
        let third = chunk(r#"{"content":"ple.com now."}"#, "null");
        let last = chunk("{}", r#""stop""#);
        let out = filter(&[&first, &second, &third, &last, "[DONE]"]);
        // The first delta ends with a space: released whole, the chunk as the provider sent it.
        assert!(out.starts_with(&format!("data: {first}\n\n")), "{out}");
        // Later chunks keep every other field byte for byte; only the content changed.
        assert_eq!(
            out.matches(r#""x_extra":{"kept":true}"#).count(),
            4,
            "{out}"
        );
        assert!(!out.contains("jane.doe"), "{out}");
        assert!(out.contains("[EMAIL_1]"), "{out}");
        assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
    }

    #[test]
    fn log_probabilities_do_not_spell_out_what_was_redacted() {
        // Each token of `logprobs` is a piece of the text as written (and `bytes` it again).
        let lp = |t: &str| {
            format!(
                r#"{{"content":[{{"token":"{t}","logprob":-0.1,"bytes":{:?},"top_logprobs":[{{"token":"{t}","logprob":-0.1}}]}}],"refusal":null}}"#,
                t.as_bytes()
            )
        };
        let piece = |t: &str, finish: &str| {
            format!(
                r#"{{"id":"c1","choices":[{{"index":0,"delta":{{"content":"{t}"}},"logprobs":{},"finish_reason":{finish}}}]}}"#,
                lp(t)
            )
        };
        let out = filter(&[
            &piece("mail jane.d", "null"),
            &piece("oe@example.com", r#""stop""#),
            "[DONE]",
        ]);
        assert!(!out.contains("jane") && !out.contains("oe@"), "{out}");
        assert!(!out.contains("106, 97, 110, 101"), "bytes of 'jane': {out}");
        assert!(out.contains("[EMAIL_1]"), "{out}");
        let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::OpenAi);
        let body = format!(
            r#"{{"id":"c1","choices":[{{"index":0,"message":{{"role":"assistant","content":"hi"}},"logprobs":{},"finish_reason":"stop"}}]}}"#,
            lp("jane.doe@example.com")
        );
        let out = g
            .filter_body(engine, &scratch, body.as_bytes())
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        assert!(v["choices"][0]["logprobs"].is_null(), "{v}");
    }

    #[test]
    fn a_chunk_that_repeats_a_key_goes_on_with_the_last_value_scanned() {
        // A client's parser reads the last `content`: that one is scanned, and the only one
        // that goes on.
        let sneaky = chunk(
            r#"{"content":"fine","content":"mail jane.doe@example.com "}"#,
            "null",
        );
        let out = filter(&[&sneaky, &chunk("{}", r#""stop""#), "[DONE]"]);
        assert!(!out.contains("jane.doe"), "{out}");
        assert!(out.contains("mail [EMAIL_1]"), "{out}");
        for event in out.lines().filter(|l| l.starts_with("data: {")) {
            assert!(event.matches(r#""content""#).count() <= 1, "{out}");
        }
    }

    #[test]
    fn a_whole_answer_that_repeats_a_key_goes_on_with_the_last_value_scanned() {
        let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::OpenAi);
        let body = br#"{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"ok","content":"mail jane.doe@example.com"},"finish_reason":"stop"}]}"#;
        let out = g
            .filter_body(engine, &scratch, body)
            .unwrap_or_else(|| panic!("rewritten"));
        let out = String::from_utf8(out).unwrap_or_default();
        assert!(!out.contains("jane.doe"), "{out}");
        assert!(out.contains("mail [EMAIL_1]"), "{out}");
        assert_eq!(out.matches(r#""content""#).count(), 1, "{out}");
    }
}
