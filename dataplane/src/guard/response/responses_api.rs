//! OpenAI's Responses API answers, passed through from OpenAI's own `/responses`: the response
//! guard reads them in that API's shapes.
//!
//! A stream's strings arrive in delta events — the answer's text (`response.output_text.delta`),
//! a refusal, a function call's arguments, a custom tool's input, an MCP call's arguments, code
//! for the code interpreter ([`Streamed`]) — and each is released through the guard like chat
//! content. Every later event that repeats one — its `done` event, `response.content_part.done`,
//! `response.output_item.done`, and the whole response in `response.completed` — carries what
//! was released instead of what the provider wrote, so no value the guard held back reaches the
//! client by another event. A string that shows up whole without having been streamed is checked
//! whole; so is every string of an output item of another type (a web search's query, a file
//! search's results, an MCP call's output), an image's data aside. Held text is flushed as one
//! more delta before its `done`; events are renumbered (`sequence_number`) so the client sees a
//! gapless sequence. A block ends the stream with an `error` event and `response.failed`.
//!
//! Events of any other kind — an annotation, an audio answer's transcript, a kind newer than this
//! reader — have every string checked whole (a value cut across two of them is not joined);
//! audio and partial image data go on as sent.
//!
//! Reasoning (summaries and reasoning text) is text the guard does not read: while it reads
//! answers, reasoning events are not passed on and reasoning items go out without it, as on the
//! chat route.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::{ChunkOutcome, Engine, Part, ResponseGuard};
use crate::guard::engine::Scratch;

mod streamed;
pub(super) use streamed::Streamed;

impl ResponseGuard {
    /// Read answers in the Responses API's shapes (OpenAI's own `/responses`).
    pub fn reading_responses_api(mut self) -> ResponseGuard {
        self.api = Some(Box::default());
        self
    }

    /// One Responses API event → the events to send instead, appended to `out`.
    pub(super) fn filter_api_event(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> ChunkOutcome {
        let mut copy = data.to_vec();
        let Ok(mut v) = simd_json::to_borrowed_value(&mut copy) else {
            // Not an event this guard understands: pass it on.
            super::event(out, data);
            return ChunkOutcome::Continue;
        };
        let kind = v
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_owned();
        let index = |v: &Value<'_>, k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        let part = (index(&v, "output_index"), index(&v, "content_index"));
        match kind.as_str() {
            k if Streamed::delta(k).is_some() => {
                let stream = Streamed::delta(k).unwrap_or(Streamed::Text);
                let item_id = str_of(&v, "item_id");
                if self.api_open_part() != Some(part) {
                    self.close_part(engine, scratch, out);
                    if let Some(api) = self.api.as_mut() {
                        api.open = Some((part, item_id, stream));
                    }
                }
                let delta = str_of(&v, "delta");
                self.json_text = self.json_stream(stream);
                let released = self.push(engine, scratch, &delta);
                self.json_text = self.json_content;
                self.note_sent(part, &released);
                if !released.is_empty() {
                    set_str(&mut v, "delta", released);
                    self.withhold_logprobs(&mut v);
                    self.write_event(&kind, &mut v, out);
                }
                if self.blocked.is_some() {
                    return self.end_api_blocked(out);
                }
                return ChunkOutcome::Continue;
            }
            k if Streamed::done(k).is_some() => {
                let stream = Streamed::done(k).unwrap_or(Streamed::Text);
                if self.api_open_part() == Some(part) {
                    self.close_part(engine, scratch, out);
                }
                let text = str_of(&v, stream.field());
                self.json_text = self.json_stream(stream);
                let text = self.sent_or_checked(engine, scratch, part, &text);
                self.json_text = self.json_content;
                let field = stream.field();
                set_str(&mut v, field, text);
                self.withhold_logprobs(&mut v);
            }
            "response.content_part.added" | "response.content_part.done" => {
                if let Some(p) = v.get_mut("part") {
                    self.fix_part(engine, scratch, part, p);
                }
            }
            "response.output_item.added" | "response.output_item.done" => {
                if let Some(item) = v.get_mut("item") {
                    self.fix_item(engine, scratch, part.0, item);
                }
            }
            "response.created"
            | "response.in_progress"
            | "response.completed"
            | "response.incomplete"
            | "response.failed" => {
                if kind != "response.created" && kind != "response.in_progress" {
                    self.close_part(engine, scratch, out);
                }
                if let Some(r) = v.get_mut("response") {
                    self.fix_response(engine, scratch, r);
                }
                if kind == "response.created" {
                    if let (Some(api), Some(r)) = (self.api.as_mut(), v.get("response")) {
                        api.created = Some(r.encode().into_bytes());
                    }
                }
            }
            k if k.starts_with("response.reasoning") && self.reads_answers() => {
                return ChunkOutcome::Continue;
            }
            // Opaque data (audio, an image), and events that carry only ids and status.
            "response.audio.delta" | "response.image_generation_call.partial_image" => {}
            // Any other kind (an annotation, an audio answer's transcript, a newer event):
            // every string checked whole.
            _ => {
                self.check_whole(engine, scratch, &mut v);
            }
        }
        if self.blocked.is_some() {
            return self.end_api_blocked(out);
        }
        self.write_event(&kind, &mut v, out);
        ChunkOutcome::Continue
    }

    /// A whole Responses object: every output text checked (a block empties it and marks the
    /// response incomplete, `content_filter`), reasoning withheld while the guard reads answers.
    /// `None` when nothing changed.
    pub(super) fn filter_api_body(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let mut copy = body.to_vec();
        let mut v = simd_json::to_borrowed_value(&mut copy).ok()?;
        if let Some(api) = self.api.as_mut() {
            api.whole = true;
        }
        let before = v.encode();
        let blocked = self.fix_response(engine, scratch, &mut v);
        if blocked {
            if let Some(o) = v.as_object_mut() {
                o.insert("status".into(), Value::from("incomplete"));
                let mut details = simd_json::borrowed::Object::new();
                details.insert("reason".into(), Value::from("content_filter"));
                o.insert("incomplete_details".into(), Value::from(details));
            }
        }
        let after = v.encode();
        (after != before).then(|| after.into_bytes())
    }

    /// The output items of a response object. Returns whether a value was blocked.
    fn fix_response(&mut self, engine: &Engine, scratch: &Scratch, r: &mut Value<'_>) -> bool {
        let mut blocked = false;
        let n = r
            .get("output")
            .and_then(|o| o.as_array())
            .map_or(0, Vec::len);
        for i in 0..n {
            if let Some(item) = r.get_mut("output").and_then(|o| o.get_idx_mut(i)) {
                blocked |= self.fix_item(engine, scratch, i as u64, item);
            }
        }
        blocked
    }

    /// One output item: a message's text parts as released, a reasoning item without its text
    /// while the guard reads answers. Returns whether a value was blocked.
    fn fix_item(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        output_index: u64,
        item: &mut Value<'_>,
    ) -> bool {
        match item.get("type").and_then(|t| t.as_str()) {
            Some("message") => {
                let mut blocked = false;
                let n = item
                    .get("content")
                    .and_then(|c| c.as_array())
                    .map_or(0, Vec::len);
                for ci in 0..n {
                    if let Some(p) = item.get_mut("content").and_then(|c| c.get_idx_mut(ci)) {
                        blocked |= self.fix_part(engine, scratch, (output_index, ci as u64), p);
                    }
                }
                blocked
            }
            Some("reasoning") if self.reads_answers() => {
                if let Some(o) = item.as_object_mut() {
                    o.insert("summary".into(), Value::Array(Box::default()));
                    o.remove("content");
                }
                false
            }
            Some("image_generation_call") | None => false,
            Some(other) => {
                let streamed = Streamed::of_item(other).map(Streamed::field);
                self.fix_call(engine, scratch, output_index, streamed, item)
            }
        }
    }

    /// An output item of another type (a call): its streamed string (`field`) as released, and
    /// every other string in it checked whole. Returns whether a value was blocked.
    fn fix_call(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        output_index: u64,
        field: Option<&str>,
        item: &mut Value<'_>,
    ) -> bool {
        // The streamed string is set aside while the rest is checked: what was released (with
        // the request's values put back) must not be read again as new text.
        let taken = field.and_then(|f| {
            let o = item.as_object_mut()?;
            let text = o.get(f)?.as_str()?.to_owned();
            o.remove(f);
            Some((f, text))
        });
        if self.blocked.is_none() {
            self.check_whole(engine, scratch, item);
        }
        if let Some((f, text)) = taken {
            let checked = self.sent_or_checked(engine, scratch, (output_index, 0), &text);
            let cut = if self.blocked.is_some() {
                String::new()
            } else {
                checked
            };
            set_str(item, f, cut);
        }
        let blocked = self.blocked.is_some();
        if blocked && self.api.as_ref().is_some_and(|a| a.whole) {
            // A whole answer: each item is judged on its own; the body says it was cut.
            self.blocked = None;
        }
        blocked
    }

    /// One content part: an output text or a refusal as released (or checked whole). Returns whether a value
    /// was blocked; the text is then empty.
    fn fix_part(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        part: Part,
        p: &mut Value<'_>,
    ) -> bool {
        let field = match p.get("type").and_then(|t| t.as_str()) {
            Some("output_text") => "text",
            Some("refusal") => "refusal",
            _ => return false,
        };
        let text = str_of(p, field);
        let checked = self.sent_or_checked(engine, scratch, part, &text);
        let blocked = self.blocked.is_some();
        set_str(p, field, if blocked { String::new() } else { checked });
        self.withhold_logprobs(p);
        if blocked && self.api.as_ref().is_some_and(|a| a.whole) {
            // A whole answer: each part is judged on its own; the body says it was cut.
            self.blocked = None;
        }
        blocked
    }

    /// What went out for `part`, or — for a text never streamed — `text` checked whole now.
    fn sent_or_checked(
        &mut self,
        engine: &Engine,
        scratch: &Scratch,
        part: Part,
        text: &str,
    ) -> String {
        if let Some(sent) = self
            .api
            .as_ref()
            .and_then(|a| a.sent.iter().find(|(p, _)| *p == part))
        {
            return sent.1.clone();
        }
        if text.is_empty() {
            return String::new();
        }
        let mut checked = self.push(engine, scratch, text);
        checked.push_str(&self.finish(engine, scratch));
        self.note_sent(part, &checked);
        checked
    }

    /// Whether `stream`'s text is JSON source: a call's arguments, or the answer's text when the
    /// request asked for JSON.
    fn json_stream(&self, stream: Streamed) -> bool {
        stream.json() || (stream == Streamed::Text && self.json_content)
    }

    fn api_open_part(&self) -> Option<Part> {
        self.api.as_ref()?.open.as_ref().map(|(p, _, _)| *p)
    }

    fn note_sent(&mut self, part: Part, text: &str) {
        let Some(api) = self.api.as_mut() else {
            return;
        };
        match api.sent.iter_mut().find(|(p, _)| *p == part) {
            Some((_, sent)) => sent.push_str(text),
            None => api.sent.push((part, text.to_owned())),
        }
    }

    /// Release what is held of the open string as one more delta, and close it.
    pub(super) fn close_part(&mut self, engine: &Engine, scratch: &Scratch, out: &mut Vec<u8>) {
        let Some(((output_index, content_index), item_id, stream)) =
            self.api.as_mut().and_then(|a| a.open.take())
        else {
            return;
        };
        self.json_text = self.json_stream(stream);
        let rest = self.finish(engine, scratch);
        self.json_text = self.json_content;
        if rest.is_empty() {
            return;
        }
        self.note_sent((output_index, content_index), &rest);
        let mut event = Vec::with_capacity(rest.len() + 160);
        {
            let mut o = crate::translate::json::Obj::new(&mut event);
            o.str("type", stream.delta_event());
            o.str("item_id", &item_id);
            o.num("output_index", output_index);
            if stream.in_content() {
                o.num("content_index", content_index);
            }
            o.str("delta", &rest);
            if stream == Streamed::Text {
                o.raw("logprobs", b"[]");
            }
            o.num("sequence_number", 0);
            o.end();
        }
        if let Ok(mut v) = simd_json::to_borrowed_value(&mut event) {
            self.write_event(stream.delta_event(), &mut v, out);
        };
    }

    /// An event's or a part's `logprobs` emptied while the guard reads answers: each token is a
    /// piece of the text as the provider wrote it, so they would spell out what it rewrote.
    fn withhold_logprobs(&self, v: &mut Value<'_>) {
        if !self.reads_answers() {
            return;
        }
        if let Some(l) = v.get_mut("logprobs").filter(|l| !l.is_null()) {
            *l = Value::Array(Box::default());
        }
    }

    /// `event: {kind}` and the event's data, numbered next in the client's sequence.
    fn write_event(&mut self, kind: &str, v: &mut Value<'_>, out: &mut Vec<u8>) {
        if let (Some(api), Some(o)) = (self.api.as_mut(), v.as_object_mut()) {
            if o.contains_key("sequence_number") {
                o.insert("sequence_number".into(), Value::from(api.sequence));
                api.sequence += 1;
            }
        }
        if !kind.is_empty() {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(kind.as_bytes());
            out.push(b'\n');
        }
        super::event(out, v.encode().as_bytes());
    }

    /// A value was blocked: an `error` event and `response.failed`, the stream's end.
    fn end_api_blocked(&mut self, out: &mut Vec<u8>) -> ChunkOutcome {
        let category = self.blocked.unwrap_or("guardrail");
        let message = format!("the response was stopped by a guardrail: {category}");
        if let Some(api) = self.api.as_mut() {
            crate::translate::responses::ending::failed_events(
                out,
                api.created.as_deref(),
                &mut api.sequence,
                ("guardrail_blocked", &message),
            );
        }
        ChunkOutcome::Blocked
    }
}

fn str_of(v: &Value<'_>, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn set_str(v: &mut Value<'_>, key: &str, text: String) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned().into(), Value::from(text));
    }
}

#[cfg(test)]
mod tests;
