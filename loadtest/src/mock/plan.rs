//! The dialect-free part of a mock answer ([`Plan`]): the reply text or tool call the knobs ask
//! for, the fleet's pace and error rate, token counts, and the [`Reply`] it becomes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::fleet::{jittered, uniform, TIMING};
use super::Reply;
use crate::knobs::Knobs;

/// What the mock answers, whatever the dialect: the reply text (or a tool call), the knobs
/// that shape its delivery, and deterministic token counts (whitespace-separated words).
pub struct Plan {
    pub knobs: Knobs,
    pub text: String,
    pub tool: Option<String>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Unique per response, for ids.
    pub serial: u64,
    /// The request asked for log probabilities (OpenAI `logprobs: true`).
    pub logprobs: bool,
    pub created: u64,
}

/// Content events when `mock:chunks` is not given.
pub const DEFAULT_CHUNKS: usize = 3;

impl Plan {
    /// `last_user`: the text of the last user message; `prompt`: all text the model would read;
    /// `offers`: whether the request offers a tool of that name.
    pub fn new(last_user: &str, prompt: &str, offers: impl Fn(&str) -> bool) -> Plan {
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        let mut knobs = Knobs::parse(last_user);
        let fleet = TIMING.get().copied().unwrap_or_default();
        if knobs.status.is_none() && fleet.error_rate > 0.0 && uniform() < fleet.error_rate {
            knobs.status = Some(503);
        }
        if knobs.chunks.is_none() {
            knobs.chunks = fleet.events;
        }
        let text = match &knobs.reply {
            Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            None => format!("echo: {last_user}"),
        };
        let tool = knobs.tool.clone().filter(|name| offers(name));
        let completion_tokens = text.split_whitespace().count() + usize::from(tool.is_some());
        Plan {
            prompt_tokens: prompt.split_whitespace().count(),
            completion_tokens,
            text,
            tool,
            knobs,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            logprobs: false,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// The tool an OpenAI-style answer calls (chat completions and Responses) and its arguments:
    /// a `mock:tool` knob's (`{}`), else `forced` — the function `tool_choice` forces — with
    /// arguments that follow its `parameters`, filled from `last_user`, as forced calls are.
    pub fn call(
        &self,
        forced: Option<&serde_json::Value>,
        last_user: &str,
    ) -> Option<(String, String)> {
        match (&self.tool, forced) {
            (Some(name), _) => Some((name.clone(), "{}".to_owned())),
            (None, Some(f)) => Some((
                f["name"].as_str().unwrap_or("").to_owned(),
                super::schema::instance(f.get("parameters"), last_user).to_string(),
            )),
            (None, None) => None,
        }
    }

    /// What the answer's reasoning is about: the reply a `mock:reply_hex` knob sets (the model
    /// thinks over what it will say), else the last user message.
    pub fn topic<'a>(&'a self, last_user: &'a str) -> &'a str {
        if self.knobs.reply.is_some() {
            &self.text
        } else {
            last_user
        }
    }

    /// Answer with `json` (structured output) in place of the echo.
    pub fn answer_json(&mut self, json: &serde_json::Value) {
        self.text = json.to_string();
        self.completion_tokens = self.text.len().div_ceil(4);
    }

    pub fn pieces(&self) -> Vec<&str> {
        crate::knobs::split(&self.text, self.knobs.chunks.unwrap_or(DEFAULT_CHUNKS))
    }

    /// The wait between events (the request's `mock:delay_ms`, else the fleet's gap).
    pub fn delay(&self) -> Duration {
        if self.knobs.delay_ms > 0 {
            return Duration::from_millis(self.knobs.delay_ms);
        }
        let fleet = TIMING.get().copied().unwrap_or_default();
        jittered(fleet.gap, fleet.jitter)
    }

    /// Before the first event: the fleet's time to first token.
    fn first_delay(&self) -> Duration {
        let fleet = TIMING.get().copied().unwrap_or_default();
        if self.knobs.delay_ms > 0 || fleet.ttft.is_zero() {
            return Duration::ZERO;
        }
        jittered(fleet.ttft, fleet.jitter)
    }

    /// The reply for a planned answer: a stream of `events`, or one body.
    pub fn reply(&self, stream: bool, events: Vec<Vec<u8>>, body: Vec<u8>) -> Reply {
        if self.knobs.drop_after == Some(0) {
            return Reply::Drop;
        }
        if stream {
            Reply::Stream {
                events,
                first_delay: self.first_delay(),
                delay: self.delay(),
                drop_after: self.knobs.drop_after,
                stamp: self.knobs.stamp,
            }
        } else {
            let delay = if self.knobs.delay_ms > 0 {
                Duration::from_millis(self.knobs.delay_ms)
            } else {
                // The fleet's pace: first token, then the rest of the generation.
                self.first_delay() + self.delay() * self.pieces().len() as u32
            };
            Reply::Full {
                status: 200,
                body,
                delay,
            }
        }
    }
}
