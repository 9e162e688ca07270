//! Response checks on Gemini's native route: `generateContent` answers, whole and streamed,
//! rewritten through the [`ResponseGuard`] in Gemini's dialect.
//!
//! Gemini: every `parts[].text` of a candidate is released through the guard, each candidate
//! (several with `candidateCount`) through its own stream (`choices.rs`); a chunk with a
//! `finishReason` flushes what that candidate holds into its last text part. Streams have no closing
//! event, so the pump calls [`ResponseGuard::end_of_stream`] when the provider ends. A block
//! sets `finishReason` (`SPII` for personal data, `BLOCKLIST` otherwise) and sends an error
//! event. Whole answers (one object, or the JSON array `streamGenerateContent` gives without
//! `alt=sse`): every candidate checked the same way.

use simd_json::prelude::*;
use simd_json::BorrowedValue;

use super::native::blocked_message;
use super::{event, Engine, ResponseGuard};

/// `f` of each part of a Gemini candidate's content.
fn each_part<T>(candidate: &BorrowedValue<'_>, f: impl Fn(&BorrowedValue<'_>) -> T) -> Vec<T> {
    candidate
        .get("content")
        .and_then(|c| c.get("parts"))
        .and_then(|p| p.as_array())
        .map(|parts| parts.iter().map(f).collect())
        .unwrap_or_default()
}

/// The `text` of each part of a Gemini candidate's content (`None` for a part without one).
fn part_texts(candidate: &BorrowedValue<'_>) -> Vec<Option<String>> {
    each_part(candidate, |p| {
        p.get("text").and_then(|t| t.as_str()).map(str::to_owned)
    })
}

/// Each part other than text, encoded (`None` for a text part): whether the guard changed one.
fn part_calls(candidate: &BorrowedValue<'_>) -> Vec<Option<String>> {
    each_part(candidate, |p| p.get("text").is_none().then(|| p.encode()))
}

/// A Gemini chunk with the texts that changed from `before` to `after` spliced in place, when
/// every one of them can be located unambiguously in `data`.
fn splice_parts(
    data: &[u8],
    before: &[Option<String>],
    after: &[Option<String>],
) -> Option<Vec<u8>> {
    use crate::route::{array_elements, first_element, unique_member};
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    let candidates = unique_member(data, start, b"candidates")?;
    let candidate = first_element(data, candidates.start)?;
    let content = unique_member(data, candidate, b"content")?;
    let parts = unique_member(data, content.start, b"parts")?;
    let elements = array_elements(data, parts.start)?;
    if elements.len() != after.len() || before.len() != after.len() {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut at = 0;
    for (i, element) in elements.iter().enumerate() {
        if before[i] == after[i] {
            continue;
        }
        let text = after[i].as_deref()?;
        let span = unique_member(data, element.start, b"text")?;
        if data.get(span.start) != Some(&b'"') {
            return None;
        }
        out.extend_from_slice(&data[at..span.start]);
        crate::http::respond::json_string(&mut out, text);
        at = span.end;
    }
    out.extend_from_slice(&data[at..]);
    Some(out)
}

impl ResponseGuard {
    /// One Gemini streamed chunk (`data:` of an `alt=sse` event) → the event to send, appended
    /// to `out`. Each candidate (several when the request asked for `candidateCount`) runs
    /// through its own stream. Returns true when a guardrail stopped the answer.
    pub(super) fn filter_gemini_chunk(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let mut copy = data.to_vec();
        let Ok(mut v) = simd_json::to_borrowed_value(&mut copy) else {
            event(out, data);
            return false;
        };
        let count = v
            .get("candidates")
            .and_then(|c| c.as_array())
            .map_or(0, Vec::len);
        if count == 0 {
            event(out, data);
            return false;
        }
        let (mut encode, mut before, mut after) = (false, Vec::new(), Vec::new());
        let mut at = 0;
        while let Some(candidate) = v.get_mut("candidates").and_then(|c| c.get_idx_mut(at)) {
            let index = candidate
                .get("index")
                .and_then(|i| i.as_u64())
                .unwrap_or(at as u64);
            let finishing = candidate.get("finishReason").is_some_and(|f| !f.is_null());
            encode |= self.reads_answers() && withhold_logprobs(candidate);
            encode |= self.check_metadata(engine, scratch, candidate);
            let texts = part_texts(candidate);
            let calls = part_calls(candidate);
            let Some(blocked) = self.in_choice(index, |g| {
                g.gemini_candidate(engine, scratch, candidate, finishing)
            }) else {
                // Numbered past the most candidates a request may ask for: not passed on.
                if let Some(c) = v.get_mut("candidates").and_then(|c| c.as_array_mut()) {
                    c.remove(at);
                }
                encode = true;
                continue;
            };
            let now = part_texts(candidate);
            // One candidate: changed texts are spliced into the provider's bytes below;
            // several: the chunk is re-encoded.
            encode |= part_calls(candidate) != calls || (count > 1 && now != texts);
            (before, after) = (texts, now);
            at += 1;
            if blocked {
                // The candidates after the one that was stopped were not read: they do not go on.
                if let Some(c) = v.get_mut("candidates").and_then(|c| c.as_array_mut()) {
                    c.truncate(at);
                }
                event(out, v.encode().as_bytes());
                let mut e = Vec::with_capacity(128);
                crate::http::respond::gemini_error_body(
                    &mut e,
                    400,
                    &blocked_message(self.blocked),
                );
                event(out, &e);
                return true;
            }
        }
        // As sent when no text changed, the changed texts spliced in when they can be located
        // in the bytes (one candidate), re-encoded otherwise (and when a call's arguments
        // changed).
        if encode {
            event(out, v.encode().as_bytes());
        } else if after == before {
            event(out, data);
        } else if let Some(spliced) = splice_parts(data, &before, &after) {
            event(out, &spliced);
        } else {
            event(out, v.encode().as_bytes());
        }
        false
    }

    /// A candidate's own members besides its content — grounding (the searches run, the pages
    /// found), citations, a newer kind — every string in them checked whole; whether any changed.
    fn check_metadata(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        candidate: &mut BorrowedValue<'_>,
    ) -> bool {
        let keys: Vec<String> = candidate
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, x)| {
                        k.as_ref() != "content"
                            && (x.as_object().is_some() || x.as_array().is_some())
                    })
                    .map(|(k, _)| k.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut changed = false;
        for k in keys {
            if self.blocked.is_some() {
                break;
            }
            if let Some(x) = candidate.get_mut(k.as_str()) {
                changed |= self.check_whole(engine, scratch, x);
            }
        }
        changed
    }

    /// Release every text part of one candidate through the guard, flushing at the end when
    /// `last`; on a block, cut the text there and set `finishReason`. True on a block.
    fn gemini_candidate(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        candidate: &mut BorrowedValue<'_>,
        last: bool,
    ) -> bool {
        if self.reads_answers() {
            withhold_logprobs(candidate);
        }
        let parts = candidate
            .get("content")
            .and_then(|c| c.get("parts"))
            .and_then(|p| p.as_array())
            .map_or(0, Vec::len);
        let mut last_text = None;
        for i in 0..parts {
            let Some(part) = candidate
                .get_mut("content")
                .and_then(|c| c.get_mut("parts"))
                .and_then(|p| p.get_idx_mut(i))
            else {
                continue;
            };
            let Some(text) = part.get("text").and_then(|t| t.as_str()).map(str::to_owned) else {
                // A function call's arguments, code and what running it printed
                // (`executableCode`, `codeExecutionResult`), a part of a newer kind: every
                // string in it, checked whole (inline data and signatures aside).
                if self.blocked.is_none() {
                    self.check_whole(engine, scratch, part);
                }
                continue;
            };
            let released = if self.blocked.is_some() {
                String::new()
            } else {
                self.push(engine, scratch, &text)
            };
            if let Some(slot) = part.get_mut("text") {
                *slot = BorrowedValue::from(released);
            }
            last_text = Some(i);
        }
        if last && self.blocked.is_none() {
            let rest = self.finish(engine, scratch);
            if !rest.is_empty() {
                if let Some(slot) = last_text.and_then(|i| {
                    candidate
                        .get_mut("content")
                        .and_then(|c| c.get_mut("parts"))
                        .and_then(|p| p.get_idx_mut(i))
                        .and_then(|p| p.get_mut("text"))
                }) {
                    let mut text = slot.as_str().unwrap_or("").to_owned();
                    text.push_str(&rest);
                    *slot = BorrowedValue::from(text);
                }
            }
        }
        if self.blocked.is_none() {
            return false;
        }
        let reason = if self.blocked == Some("pii") {
            "SPII"
        } else {
            "BLOCKLIST"
        };
        if let Some(obj) = candidate.as_object_mut() {
            obj.insert("finishReason".into(), BorrowedValue::from(reason));
        }
        true
    }

    /// A whole Gemini answer: one response object, or an array of them (a stream read whole).
    /// `None` when nothing changed.
    pub(super) fn filter_gemini_body(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let mut copy = body.to_vec();
        let mut v = simd_json::to_borrowed_value(&mut copy).ok()?;
        let before = v.encode();
        let responses = v.as_array().map(Vec::len);
        match responses {
            // A stream read whole: each candidate's text flows across the responses, in its own
            // stream (`choices.rs`).
            Some(n) => {
                let last = last_responses(&v, n);
                let mut blocked = Vec::new();
                for i in 0..n {
                    let count = v
                        .get_idx(i)
                        .and_then(|r| r.get("candidates"))
                        .and_then(|c| c.as_array())
                        .map_or(0, Vec::len);
                    for at in 0..count {
                        let Some(candidate) = v
                            .get_idx_mut(i)
                            .and_then(|r| r.get_mut("candidates"))
                            .and_then(|c| c.get_idx_mut(at))
                        else {
                            continue;
                        };
                        let index = candidate
                            .get("index")
                            .and_then(|x| x.as_u64())
                            .unwrap_or(at as u64);
                        let ends = last.contains(&(index, i));
                        let stopped = self
                            .in_choice(index, |g| {
                                g.check_metadata(engine, scratch, candidate);
                                let stopped = g.gemini_candidate(engine, scratch, candidate, ends);
                                g.blocked = None;
                                stopped
                            })
                            .unwrap_or(true);
                        if stopped && !blocked.contains(&index) {
                            blocked.push(index);
                        }
                    }
                }
                // A whole answer with a blocked value has that candidate emptied, as in the other
                // dialects.
                for i in 0..n {
                    if let Some(candidates) = v
                        .get_idx_mut(i)
                        .and_then(|r| r.get_mut("candidates"))
                        .and_then(|c| c.as_array_mut())
                    {
                        for (at, candidate) in candidates.iter_mut().enumerate() {
                            let index = candidate
                                .get("index")
                                .and_then(|x| x.as_u64())
                                .unwrap_or(at as u64);
                            if blocked.contains(&index) {
                                empty_texts(candidate);
                            }
                        }
                    }
                }
            }
            None => {
                let candidates = v
                    .get("candidates")
                    .and_then(|c| c.as_array())
                    .map_or(0, Vec::len);
                for i in 0..candidates {
                    if let Some(candidate) = v.get_mut("candidates").and_then(|c| c.get_idx_mut(i))
                    {
                        self.check_metadata(engine, scratch, candidate);
                        if self.gemini_candidate(engine, scratch, candidate, true) {
                            empty_texts(candidate);
                        }
                    }
                    self.blocked = None;
                }
            }
        }
        let after = v.encode();
        (after != before).then(|| after.into_bytes())
    }

    /// The provider ended a Gemini stream: send what each candidate still holds as one more
    /// chunk.
    pub(super) fn end_gemini_stream(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        out: &mut Vec<u8>,
    ) {
        for index in self.choice_indexes() {
            let rest = self
                .in_choice(index, |g| g.finish(engine, scratch))
                .unwrap_or_default();
            if rest.is_empty() {
                continue;
            }
            let mut e = Vec::with_capacity(rest.len() + 96);
            e.extend_from_slice(b"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":");
            crate::http::respond::json_string(&mut e, &rest);
            e.extend_from_slice(b"}],\"role\":\"model\"},\"index\":");
            e.extend_from_slice(index.to_string().as_bytes());
            e.extend_from_slice(b"}]}");
            event(out, &e);
        }
    }
}

/// For each candidate index in a stream read whole (`n` responses), the last response that
/// carries it: where its held text is flushed.
fn last_responses(v: &BorrowedValue<'_>, n: usize) -> Vec<(u64, usize)> {
    let mut last: Vec<(u64, usize)> = Vec::new();
    for i in 0..n {
        let candidates = v
            .get_idx(i)
            .and_then(|r| r.get("candidates"))
            .and_then(|c| c.as_array());
        for (at, c) in candidates.into_iter().flatten().enumerate() {
            let index = c.get("index").and_then(|x| x.as_u64()).unwrap_or(at as u64);
            match last.iter_mut().find(|(k, _)| *k == index) {
                Some(entry) => entry.1 = i,
                None => last.push((index, i)),
            }
        }
    }
    last
}

/// Remove a candidate's `logprobsResult` (its tokens spell out the text as the provider wrote
/// it); whether it had one.
fn withhold_logprobs(candidate: &mut BorrowedValue<'_>) -> bool {
    candidate
        .as_object_mut()
        .is_some_and(|o| o.remove("logprobsResult").is_some())
}

/// Every text part of a candidate set to "".
fn empty_texts(candidate: &mut BorrowedValue<'_>) {
    let Some(parts) = candidate
        .get_mut("content")
        .and_then(|c| c.get_mut("parts"))
        .and_then(|p| p.as_array_mut())
    else {
        return;
    };
    for part in parts {
        if let Some(slot) = part.get_mut("text") {
            *slot = BorrowedValue::from("");
        }
    }
}

#[cfg(test)]
mod tests;
