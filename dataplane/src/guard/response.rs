//! Guardrails on what the provider answers, streamed or not: `response_pii` and
//! `response_secrets` (`off | flag | redact | block`).
//!
//! A stream is checked as it flows. Each content delta joins a small held-back tail; the text is
//! scanned, and everything that can no longer change is released at once — with values replaced
//! by placeholders, or up to a blocked value. Only the trailing run of characters that could still
//! be part of a value is held back (letters, digits, `@._%+-/=:`, and single spaces or dashes
//! between digit groups, each character read as the detectors read it: fullwidth and other
//! scripts' digits are digits, zero-width characters nothing), at most [`MAX_HOLD`] bytes; it is released as soon as a character
//! arrives that ends it, and flushed at the end; digits followed by the start of a word wait for
//! the word (a label after a number names it). A stream is never buffered whole
//! (`response/holdback.rs`).

use warden_shared::snapshot::{GuardAction, GuardrailPolicy};

use super::apply::{count_verdict, Placeholders, Verdict};
use super::custom::CustomScan;
use super::engine::{Engine, Finding};
use super::Category;

mod choices;
mod fields;
mod gemini;
mod holdback;
mod native;
mod openai;
mod responses_api;
use holdback::{holdback_start, last_words_start, partial_placeholder_start, CUSTOM_HOLD_WORDS};
use warden_shared::catalog::Dialect;

/// A provider's JSON in which some object repeats a key, rewritten with one value per key: the
/// last, which is what clients' parsers (JavaScript, Python, Go) read. The guard reads parsed
/// values, so without this a repeated key could carry text past it that the client then reads.
/// `None` when no key repeats (nearly always) or the bytes are not JSON.
fn last_values(data: &[u8]) -> Option<Vec<u8>> {
    if crate::route::refuse_duplicate_keys(data).is_ok() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    serde_json::to_vec(&value).ok()
}

/// Where one text part sits in a Responses API answer: (output index, content index).
type Part = (u64, u64);

/// What the guard keeps of a Responses API answer (`responses_api.rs`).
#[derive(Default)]
struct ApiStream {
    /// The string being released (a text part, a refusal, a call's arguments), its item id and
    /// what kind of string it is.
    open: Option<(Part, String, responses_api::Streamed)>,
    /// The text that went out for each part: the closing events repeat it.
    sent: Vec<(Part, String)>,
    /// The next `sequence_number` the client sees.
    sequence: u64,
    /// The response object of `response.created`, the shape of the `response.failed` written
    /// when the guard stops the stream.
    created: Option<Vec<u8>>,
    /// A whole answer (not a stream): each text part is judged on its own.
    whole: bool,
}

/// What filtering one streamed chunk decided.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    Continue,
    /// A blocked value: the stream has been ended (`content_filter` and an error event in the
    /// OpenAI dialect, the dialect's own ending in the others).
    Blocked,
}

/// One SSE event of `data`.
pub(super) fn event(out: &mut Vec<u8>, data: &[u8]) {
    // Data of several lines (a provider may send one event's JSON over several `data:` lines)
    // goes out as several `data:` lines: a bare line break would end the field, and the client
    // would read an empty event.
    for line in data.split(|b| *b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// `data` with the JSON string at `span` (quotes included) replaced by `text`.
fn splice_string(data: &[u8], span: std::ops::Range<usize>, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + text.len());
    out.extend_from_slice(&data[..span.start]);
    crate::http::respond::json_string(&mut out, text);
    out.extend_from_slice(&data[span.end..]);
    out
}

/// The most bytes held back while a value might still be completing.
pub const MAX_HOLD: usize = 256;

/// Released text kept before what is pending: the window validators read context words in.
const CONTEXT: usize = super::pii::WINDOW;

pub struct ResponseGuard {
    pii: GuardAction,
    secrets: GuardAction,
    /// Text not yet released, after the last [`CONTEXT`] bytes already released (`context` of
    /// them): validators read the words before a value ("SSN", "passport no."), and those may
    /// have gone out in an earlier event.
    pending: String,
    context: usize,
    placeholders: Placeholders,
    /// (value, placeholder) pairs from the request whose originals go back to the client.
    restore: Vec<(String, String)>,
    pub verdicts: Vec<Verdict>,
    /// The category that stopped the stream, once one did.
    pub blocked: Option<&'static str>,
    findings: Vec<Finding>,
    /// The project's own patterns (their `response_action` applies).
    custom: Option<CustomScan>,
    /// The dialect of what the client receives.
    dialect: Dialect,
    /// Anthropic streams: the text block being released.
    open_block: Option<u64>,
    /// Answers from OpenAI's Responses API, in its shapes (set by `reading_responses_api`).
    api: Option<Box<ApiStream>>,
    /// The project's own phone plans, this shard's copy (`None`: the data plane's).
    phones: Option<std::sync::Arc<super::pii::Plans>>,
    /// OpenAI answers: the streams of strings other than the content (tool-call arguments, a
    /// refusal, a provider's own fields), by path (`fields.rs`).
    fields: Vec<fields::FieldStream>,
    /// Choices other than the first (OpenAI `n`, Gemini `candidateCount`), each its own stream
    /// (`choices.rs`).
    choices: Vec<choices::ChoiceStream>,
    /// The text being released is JSON source — a tool call's arguments or input, streamed or
    /// whole, which the client parses — so a restored value goes in JSON-escaped: a value with a
    /// quote, a backslash or a control character (an operator pattern's) would otherwise end
    /// its string early and add members of its own (`"to":"x","admin":true`).
    json_text: bool,
    /// The request asked for its answer as JSON (`proxy/policy.rs` `json_answer`): the answer's
    /// text is JSON source too, and `json_text` goes back to this between fields.
    json_content: bool,
}

impl ResponseGuard {
    /// Whether the guard reads the answer's text (and not only puts restored values back).
    pub fn reads_answers(&self) -> bool {
        self.pii != GuardAction::Off || self.secrets != GuardAction::Off || self.custom.is_some()
    }

    /// `None` when the policy checks nothing on the response side and nothing is restored.
    pub fn for_policy(policy: &GuardrailPolicy) -> Option<ResponseGuard> {
        ResponseGuard::with_request(policy, &super::apply::Plan::default(), None)
    }

    /// A guard that also puts back the values the request's `restore` placeholders stand for,
    /// numbering new values after the request's placeholders.
    pub fn with_request(
        policy: &GuardrailPolicy,
        request: &super::apply::Plan,
        custom: Option<CustomScan>,
    ) -> Option<ResponseGuard> {
        let (pii, secrets) = (policy.response_pii, policy.response_secrets);
        let custom = custom.filter(CustomScan::checks_responses);
        if pii == GuardAction::Off
            && secrets == GuardAction::Off
            && request.restore.is_empty()
            && custom.is_none()
        {
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
            context: 0,
            placeholders: Placeholders::seeded(&request.replacements),
            restore,
            verdicts: Vec::new(),
            blocked: None,
            findings: Vec::new(),
            custom,
            dialect: Dialect::OpenAi,
            open_block: None,
            api: None,
            phones: None,
            fields: Vec::new(),
            choices: Vec::new(),
            json_text: false,
            json_content: false,
        })
    }

    /// Check phone numbers against the project's own plans (`None`: the data plane's).
    pub fn with_phones(
        mut self,
        phones: Option<std::sync::Arc<super::pii::Plans>>,
    ) -> ResponseGuard {
        self.phones = phones;
        self
    }

    /// The answer's text is JSON the client parses (the request asked for a JSON answer).
    pub fn json_answer(mut self, json: bool) -> ResponseGuard {
        self.json_content = json;
        self.json_text = json;
        self
    }

    /// Filter answers in `dialect` (the client's; OpenAI unless set).
    pub fn in_dialect(mut self, dialect: Dialect) -> ResponseGuard {
        self.dialect = dialect;
        self
    }

    /// One streamed event (its name and data) → the events to send instead, appended to `out`.
    /// `template` keeps the first OpenAI chunk's shape for the chunks the guard adds.
    pub fn filter_event(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        name: Option<&[u8]>,
        data: &[u8],
        template: &mut Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> ChunkOutcome {
        let canonical = last_values(data);
        let data = canonical.as_deref().unwrap_or(data);
        if self.api.is_some() {
            return self.filter_api_event(engine, scratch, data, out);
        }
        let stopped = match self.dialect {
            Dialect::OpenAi => {
                return self.filter_openai_chunk(engine, scratch, data, template, out)
            }
            Dialect::Anthropic => {
                let name = name.unwrap_or(b"message");
                self.filter_anthropic_event(engine, scratch, name, data, out)
            }
            Dialect::Gemini => self.filter_gemini_chunk(engine, scratch, data, out),
        };
        if stopped {
            ChunkOutcome::Blocked
        } else {
            ChunkOutcome::Continue
        }
    }

    /// The provider ended the stream: send what is still held (a stream that ends without its
    /// closing event, and every Gemini stream).
    pub fn end_of_stream(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        template: &mut Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) {
        if self.blocked.is_some() {
            return;
        }
        if self.api.is_some() {
            self.close_part(engine, scratch, out);
            return;
        }
        match self.dialect {
            Dialect::OpenAi => {
                let _ = self.flush_choices(engine, scratch, template, out);
            }
            Dialect::Anthropic => {
                let _ = self.flush_anthropic(engine, scratch, out);
            }
            Dialect::Gemini => self.end_gemini_stream(engine, scratch, out),
        }
    }

    /// Whether any value was blocked so far (a whole answer's choices each reset `blocked`).
    pub fn blocked_any(&self) -> bool {
        self.blocked.is_some()
            || self
                .verdicts
                .iter()
                .any(|v| v.action == warden_shared::snapshot::GuardAction::Block)
    }

    /// A whole answer in the guard's dialect. `None` when nothing changed.
    pub fn filter_body(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let canonical = last_values(body);
        let checked = canonical.as_deref().unwrap_or(body);
        let filtered = match self.dialect {
            _ if self.api.is_some() => self.filter_api_body(engine, scratch, checked),
            Dialect::OpenAi => self.filter_openai_body(engine, scratch, checked),
            Dialect::Anthropic => self.filter_anthropic_body(engine, scratch, checked),
            Dialect::Gemini => self.filter_gemini_body(engine, scratch, checked),
        };
        filtered.or(canonical)
    }

    /// Add a content delta; returns the text that can be released now.
    pub fn push(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        delta: &str,
    ) -> String {
        if self.blocked.is_some() {
            return String::new();
        }
        self.pending.push_str(delta);
        let mut hold = holdback_start(&self.pending).max(self.context);
        if !self.restore.is_empty() {
            hold = hold.min(partial_placeholder_start(&self.pending));
        }
        if self.custom.is_some() {
            hold = hold.min(last_words_start(&self.pending, CUSTOM_HOLD_WORDS));
        }
        self.release(engine, scratch, hold)
    }

    /// The end of the content: release everything held.
    pub fn finish(&mut self, engine: &Engine, scratch: &crate::guard::engine::Scratch) -> String {
        if self.blocked.is_some() {
            return String::new();
        }
        let end = self.pending.len();
        self.release(engine, scratch, end)
    }

    /// Release `pending[..cut]` (less any value that reaches past `cut`), applying the policy.
    fn release(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        cut: usize,
    ) -> String {
        self.findings.clear();
        engine.scan_in(
            scratch,
            self.phones.as_deref(),
            self.pending.as_bytes(),
            &mut self.findings,
        );
        let context = self.context;
        self.findings
            .retain(|f| f.detector().category.located() && f.start >= context);
        let mut own = Vec::new();
        if let Some(custom) = &self.custom {
            custom.scan(self.pending.as_bytes(), &self.findings, &mut own);
            own.retain(|f| f.start >= context);
        }
        let mut cut = cut;
        for f in self.findings.iter().chain(&own) {
            if f.end > cut {
                cut = cut.min(f.start);
            }
        }
        let findings = std::mem::take(&mut self.findings);
        // Built-in and custom values, in text order, with what each one's policy says.
        let mut values: Vec<(&Finding, Category, &str, &str, GuardAction)> = findings
            .iter()
            .filter(|f| f.end <= cut)
            .map(|f| {
                let d = f.detector();
                let action = if d.category == Category::Pii {
                    self.pii
                } else {
                    self.secrets
                };
                (f, d.category, d.id, d.placeholder, action)
            })
            .collect();
        if let Some(custom) = &self.custom {
            for f in own.iter().filter(|f| f.end <= cut) {
                let (p, kind) = custom.pattern(f.detector);
                values.push((f, Category::Custom, p.id.as_str(), kind, p.response_action));
            }
            values.sort_by_key(|v| v.0.start);
        }
        let mut out = String::with_capacity(cut);
        let mut at = context;
        for (f, category, id, kind, action) in values {
            if action == GuardAction::Off {
                continue;
            }
            count_verdict(&mut self.verdicts, category, id, action);
            match action {
                GuardAction::Block => {
                    out.push_str(&self.pending[at..f.start]);
                    self.blocked = Some(category.name());
                    self.pending.clear();
                    self.context = 0;
                    self.findings = findings;
                    return out;
                }
                GuardAction::Redact | GuardAction::Restore => {
                    out.push_str(&self.pending[at..f.start]);
                    let placeholder = self
                        .placeholders
                        .for_value(&self.pending.as_bytes()[f.start..f.end], kind);
                    out.push_str(&String::from_utf8_lossy(placeholder));
                    at = f.end;
                }
                GuardAction::Flag | GuardAction::Off => {}
            }
        }
        self.findings = findings;
        out.push_str(&self.pending[at..cut]);
        // Keep the last CONTEXT released bytes as the next scan's context.
        let mut keep = cut.saturating_sub(CONTEXT);
        while !self.pending.is_char_boundary(keep) {
            keep += 1;
        }
        self.pending.drain(..keep);
        self.context = cut - keep;
        for (value, placeholder) in &self.restore {
            if out.contains(placeholder.as_str()) {
                let value = if self.json_text {
                    std::borrow::Cow::Owned(json_escaped(value))
                } else {
                    std::borrow::Cow::Borrowed(value.as_str())
                };
                out = out.replace(placeholder.as_str(), &value);
            }
        }
        out
    }
}

/// `value` as it stands inside a JSON string: quotes, backslashes and control characters
/// escaped, nothing around it.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests;
