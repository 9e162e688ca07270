//! The conversions of the newer routes on any bytes: a Responses request (and an Anthropic
//! Messages request for another provider's model) to the chat request it becomes, chat answers
//! and chat event streams to Responses objects and typed events (and Anthropic messages and
//! events), and
//! OpenAI embeddings requests to Gemini's and Gemini's answers back. Whatever they write must be
//! JSON (every event's data too), and the chat request a Responses request became must pass the
//! chat route's own validation — never a panic. OpenAI's own Responses answers (events and whole
//! objects) go through a redacting response guard reading that API's shapes, which must write
//! JSON for JSON; the guardrails' reader of Responses request bodies takes any bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_dataplane::guard::engine::Engine;
use warden_dataplane::guard::response::{ChunkOutcome, ResponseGuard};
use warden_shared::snapshot::{GuardAction, GuardrailPolicy};
use warden_dataplane::sse::events_in;
use warden_dataplane::translate::embeddings::{self, EmbedMeta};
use warden_dataplane::translate::messages;
use warden_dataplane::translate::responses::{self, stream::Stream, Echo};

/// Whether `bytes` is one JSON document. Checked for syntax alone: building a
/// `serde_json::Value` would refuse objects whose first key is serde_json's private raw-value
/// token, which is valid JSON a provider may send.
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// A converted request is JSON the chat route's own validation takes (a model that is not a
/// string is refused before conversion; anything else parses).
fn passes_as_chat(chat: &[u8]) {
    assert!(is_json(chat), "{}", String::from_utf8_lossy(chat));
    let mut scratch = Vec::new();
    let parsed = warden_dataplane::route::parse_chat(chat, &mut scratch);
    assert!(
        parsed.is_ok(),
        "{:?}: {}",
        parsed.err(),
        String::from_utf8_lossy(chat)
    );
}

fn echo(fields: Vec<u8>) -> Echo {
    Echo {
        id: "resp_fuzz".into(),
        model: "alias".into(),
        created_at: 1,
        fields,
    }
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("detectors compile"))
}

/// A guard that redacts personal data and secrets in OpenAI Responses API answers.
fn api_guard() -> ResponseGuard {
    let policy = GuardrailPolicy {
        response_pii: GuardAction::Redact,
        response_secrets: GuardAction::Redact,
        ..GuardrailPolicy::default()
    };
    ResponseGuard::for_policy(&policy)
        .expect("a guard")
        .reading_responses_api()
}

thread_local! {
    /// Hyperscan scratch is costly to allocate: one per fuzzing thread.
    static SCRATCH: warden_dataplane::guard::engine::Scratch =
        engine().scratch().expect("scratch");
}

fuzz_target!(|data: &[u8]| {
    SCRATCH.with(|scratch| run(data, scratch));
});

fn run(data: &[u8], scratch: &warden_dataplane::guard::engine::Scratch) {
    let engine = engine();
    warden_dataplane::extract::responses_body(data, &mut |_, _| {});
    let mut guard = api_guard();
    let mut out = Vec::new();
    for e in events_in(data).filter(|e| is_json(&e.data)) {
        let outcome = guard.filter_event(engine, scratch, e.name, &e.data, &mut None, &mut out);
        if outcome == ChunkOutcome::Blocked {
            break;
        }
    }
    guard.end_of_stream(engine, scratch, &mut None, &mut out);
    for e in events_in(&out) {
        assert!(is_json(&e.data), "{}", String::from_utf8_lossy(&e.data));
    }
    if let Some(filtered) = api_guard().filter_body(engine, scratch, data) {
        assert!(is_json(&filtered), "{}", String::from_utf8_lossy(&filtered));
    }
    let mut copy = data.to_vec();
    if let Ok(value) = simd_json::to_borrowed_value(&mut copy) {
        let mut chat = Vec::new();
        if let Ok(fields) = responses::request(&value, &mut chat) {
            passes_as_chat(&chat);
            let mut out = Vec::new();
            responses::write_response(
                &mut out,
                &echo(fields),
                ("completed", None, None),
                b"[]",
                None,
            );
            assert!(is_json(&out), "{}", String::from_utf8_lossy(&out));
        }
        let mut chat = Vec::new();
        if messages::request(&value, &mut chat).is_ok() {
            passes_as_chat(&chat);
        }
        let mut body = Vec::new();
        if embeddings::gemini_request(&value, "m", &mut body).is_ok() {
            assert!(is_json(&body), "{}", String::from_utf8_lossy(&body));
        }
    }
    let mut out = Vec::new();
    if responses::response(&mut data.to_vec(), &echo(Vec::new()), &mut out).is_ok() {
        assert!(is_json(&out), "{}", String::from_utf8_lossy(&out));
    }
    for base64 in [false, true] {
        let meta = EmbedMeta {
            model: "m".into(),
            base64,
            estimated_tokens: 1,
        };
        let mut out = Vec::new();
        if embeddings::gemini_response(&mut data.to_vec(), &meta, &mut out).is_ok() {
            assert!(is_json(&out), "{}", String::from_utf8_lossy(&out));
        }
    }
    let message_echo = messages::Echo {
        id: "msg_fuzz".into(),
        model: "alias".into(),
    };
    let mut out = Vec::new();
    if messages::answer::response(&mut data.to_vec(), &message_echo, &mut out).is_ok() {
        assert!(is_json(&out), "{}", String::from_utf8_lossy(&out));
    }
    let mut events = messages::stream::Stream::new(message_echo);
    let mut out = Vec::new();
    events.events(data, &mut out);
    events.stopped(&mut out);
    for e in events_in(&out) {
        assert!(is_json(&e.data), "{}", String::from_utf8_lossy(&e.data));
    }
    let mut stream = Stream::new(echo(b"\"store\":false".to_vec()));
    let mut out = Vec::new();
    stream.events(data, &mut out);
    stream.close(&mut out);
    for e in events_in(&out) {
        assert!(is_json(&e.data), "{}", String::from_utf8_lossy(&e.data));
    }
}
