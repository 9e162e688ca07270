//! Answers with several choices (OpenAI's `n`, Gemini's `candidateCount`). Each choice is a text
//! of its own, and a stream interleaves them (`{"index":1,...}` between `{"index":0,...}`
//! chunks), so each choice gets its own held-back stream — pending tail, context and field
//! streams — while placeholders, restore pairs and verdicts stay the guard's. Choice 0 lives in
//! the guard itself; the others here, swapped in while one of their deltas is read. Without this
//! the choices' deltas ran through one stream: a value cut across two chunks of choice 1 had a
//! chunk of choice 0 between its halves and was never whole, and held text of one choice went
//! out in another's chunk.
//!
//! Bounded: at most [`MAX_CHOICES`] streams (OpenAI's own limit on `n`); a choice numbered past
//! it is not passed on.

use super::fields::FieldStream;
use super::ResponseGuard;

/// The most choices read; OpenAI refuses `n` over 128.
pub(super) const MAX_CHOICES: u64 = 128;

/// The text state of one choice other than the first.
#[derive(Default)]
pub(super) struct ChoiceStream {
    index: u64,
    pending: String,
    context: usize,
    fields: Vec<FieldStream>,
}

impl ResponseGuard {
    /// Run `f` with the guard's text state switched to choice `index`'s; `None` (and `f` not run)
    /// for an index past [`MAX_CHOICES`].
    pub(super) fn in_choice<T>(
        &mut self,
        index: u64,
        f: impl FnOnce(&mut ResponseGuard) -> T,
    ) -> Option<T> {
        if index == 0 {
            return Some(f(self));
        }
        if index >= MAX_CHOICES {
            return None;
        }
        let at = match self.choices.iter().position(|c| c.index == index) {
            Some(at) => at,
            None => {
                self.choices.push(ChoiceStream {
                    index,
                    ..ChoiceStream::default()
                });
                self.choices.len() - 1
            }
        };
        self.swap_choice(at);
        let out = f(self);
        self.swap_choice(at);
        Some(out)
    }

    fn swap_choice(&mut self, at: usize) {
        let c = &mut self.choices[at];
        std::mem::swap(&mut self.pending, &mut c.pending);
        std::mem::swap(&mut self.context, &mut c.context);
        std::mem::swap(&mut self.fields, &mut c.fields);
    }

    /// The choices read so far, the first first: what a stream's end flushes.
    pub(super) fn choice_indexes(&self) -> Vec<u64> {
        std::iter::once(0)
            .chain(self.choices.iter().map(|c| c.index))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::guard::response::tests::{redacting, through};
    use warden_shared::catalog::Dialect;

    /// An OpenAI chunk with one choice.
    fn chunk(index: u64, delta: &str, finish: &str) -> String {
        format!(
            r#"{{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":{index},"delta":{delta},"finish_reason":{finish}}}]}}"#
        )
    }

    fn content(text: &str) -> String {
        serde_json::json!({ "content": text }).to_string()
    }

    /// What a client rebuilds from the events: each choice's content, by index, and whether any
    /// event was an error.
    fn rebuilt(events: &str) -> (Vec<String>, bool) {
        let mut texts = vec![String::new(); 4];
        let mut error = false;
        for d in events.lines().filter_map(|l| l.strip_prefix("data: ")) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(d) else {
                continue;
            };
            error |= v.get("error").is_some();
            for c in v["choices"].as_array().into_iter().flatten() {
                let i = c["index"].as_u64().unwrap_or(99) as usize;
                if let (Some(t), Some(s)) = (texts.get_mut(i), c["delta"]["content"].as_str()) {
                    t.push_str(s);
                }
            }
        }
        (texts, error)
    }

    #[test]
    fn interleaved_choices_are_each_read_whole_and_keep_their_own_text() {
        // n = 2: the provider interleaves the choices' chunks. A value cut across two chunks
        // of choice 1 has a chunk of choice 0 between its halves.
        let (engine, scratch, mut g) = redacting(Dialect::OpenAi);
        let chunks = [
            chunk(0, &content("Hello "), "null"),
            chunk(1, &content("write to jane.d"), "null"),
            chunk(0, &content("there, friend"), "null"),
            chunk(1, &content("oe@example.com now"), "null"),
            chunk(0, "{}", r#""stop""#),
            chunk(1, "{}", r#""stop""#),
        ];
        let mut all: Vec<&str> = chunks.iter().map(String::as_str).collect();
        all.push("[DONE]");
        let out = through(engine, &scratch, &mut g, &all);
        assert!(
            !out.contains("jane.d") && !out.contains("oe@example"),
            "{out}"
        );
        let (texts, error) = rebuilt(&out);
        assert!(!error, "{out}");
        assert_eq!(texts[0], "Hello there, friend", "{out}");
        assert_eq!(texts[1], "write to [EMAIL_1] now", "{out}");
        assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
    }

    #[test]
    fn every_choice_of_a_chunk_that_carries_several_is_read() {
        let (engine, scratch, mut g) = redacting(Dialect::OpenAi);
        let both = r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"fine. "},"finish_reason":null},{"index":1,"delta":{"content":"mail jane.doe@example.com "},"finish_reason":null}]}"#;
        let out = through(engine, &scratch, &mut g, &[both, "[DONE]"]);
        assert!(!out.contains("jane.doe"), "{out}");
        let (texts, _) = rebuilt(&out);
        assert_eq!(texts[..2], ["fine. ", "mail [EMAIL_1] "], "{out}");
    }

    #[test]
    fn text_in_the_chunk_that_finishes_a_choice_goes_out_in_order() {
        // Some OpenAI-compatible servers send the last content with the finish reason.
        let (engine, scratch, mut g) = redacting(Dialect::OpenAi);
        let first = chunk(0, &content("Hi"), "null");
        let last = chunk(0, &content(" there jane.doe@example.com"), r#""stop""#);
        let out = through(engine, &scratch, &mut g, &[&first, &last, "[DONE]"]);
        assert_eq!(rebuilt(&out).0[0], "Hi there [EMAIL_1]", "{out}");
    }

    #[test]
    fn held_text_of_a_choice_goes_out_with_that_choices_index() {
        // Choice 1 ends on a value and the stream ends without its finish chunk.
        let (engine, scratch, mut g) = redacting(Dialect::OpenAi);
        let a = chunk(1, &content("mail jane.doe@example.com"), "null");
        let b = chunk(0, &content("ok"), r#""stop""#);
        let out = through(engine, &scratch, &mut g, &[&a, &b, "[DONE]"]);
        assert_eq!(rebuilt(&out).0[..2], ["ok", "mail [EMAIL_1]"], "{out}");
    }

    #[test]
    fn a_choice_numbered_past_the_bound_does_not_go_on() {
        let (engine, scratch, mut g) = redacting(Dialect::OpenAi);
        let far = chunk(100_000, &content("mail jane.doe@example.com now"), "null");
        let out = through(engine, &scratch, &mut g, &[&far, "[DONE]"]);
        assert!(
            !out.contains("jane.doe") && !out.contains("100000"),
            "{out}"
        );
        assert!(g.choices.is_empty());
    }

    #[test]
    fn gemini_candidates_are_each_read_through_their_own_stream() {
        let (engine, scratch, mut g) = redacting(Dialect::Gemini);
        let c = |index: u64, text: &str, finish: &str| {
            format!(
                r#"{{"candidates":[{{"content":{{"parts":[{{"text":{}}}],"role":"model"}},"index":{index}{finish}}}],"modelVersion":"m"}}"#,
                serde_json::json!(text)
            )
        };
        let chunks = [
            c(0, "Hello ", ""),
            c(1, "write to jane.d", ""),
            c(0, "there", r#","finishReason":"STOP""#),
            c(1, "oe@example.com", ""),
        ];
        let mut out = Vec::new();
        for ch in &chunks {
            g.filter_event(engine, &scratch, None, ch.as_bytes(), &mut None, &mut out);
        }
        g.end_of_stream(engine, &scratch, &mut None, &mut out);
        let out = String::from_utf8(out).unwrap_or_default();
        assert!(
            !out.contains("jane.d") && !out.contains("oe@example"),
            "{out}"
        );
        let mut texts = [String::new(), String::new()];
        for d in out.lines().filter_map(|l| l.strip_prefix("data: ")) {
            let v: serde_json::Value = serde_json::from_str(d).unwrap_or_default();
            for cand in v["candidates"].as_array().into_iter().flatten() {
                let i = cand["index"].as_u64().unwrap_or(0) as usize;
                for p in cand["content"]["parts"].as_array().into_iter().flatten() {
                    texts[i].push_str(p["text"].as_str().unwrap_or(""));
                }
            }
        }
        assert_eq!(texts, ["Hello there", "write to [EMAIL_1]"], "{out}");
        // The same stream read whole (`streamGenerateContent` without `alt=sse`).
        let (engine, scratch, mut g) = redacting(Dialect::Gemini);
        let body = format!("[{}]", chunks.join(","));
        let whole = g
            .filter_body(engine, &scratch, body.as_bytes())
            .unwrap_or_default();
        let whole = String::from_utf8(whole).unwrap_or_default();
        assert!(
            !whole.contains("jane.d") && !whole.contains("oe@example"),
            "{whole}"
        );
        assert!(whole.contains("[EMAIL_1]"), "{whole}");
    }
}
