//! Provider answers through the response guard in each dialect, as a project that restores its
//! request's values and redacts new ones sees them: streamed events one by one (the content,
//! tool-call arguments and tool input, a provider's own fields, each held and released across
//! events) and whole bodies. Nothing may panic, and what the guard writes for JSON it was given
//! must be JSON.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_dataplane::guard::apply::Plan;
use warden_dataplane::guard::engine::Engine;
use warden_dataplane::guard::response::ResponseGuard;
use warden_shared::catalog::Dialect;
use warden_shared::snapshot::{GuardAction, GuardrailPolicy};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("detectors compile"))
}

thread_local! {
    /// Hyperscan scratch is costly to allocate: one per fuzzing thread.
    static SCRATCH: warden_dataplane::guard::engine::Scratch =
        engine().scratch().expect("scratch");
}

fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// The `data:` of each event the guard wrote.
fn written(out: &[u8]) -> Vec<&[u8]> {
    out.split(|b| *b == b'\n')
        .filter_map(|l| l.strip_prefix(b"data: "))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else { return };
    let dialect = match which % 3 {
        0 => Dialect::OpenAi,
        1 => Dialect::Anthropic,
        _ => Dialect::Gemini,
    };
    SCRATCH.with(|scratch| run(engine(), scratch, dialect, which, input));
});

fn run(
    engine: &Engine,
    scratch: &warden_dataplane::guard::engine::Scratch,
    dialect: Dialect,
    which: u8,
    input: &[u8],
) {
    let policy = GuardrailPolicy {
        response_pii: GuardAction::Redact,
        response_secrets: GuardAction::Redact,
        ..GuardrailPolicy::default()
    };
    let request = Plan {
        replacements: vec![(b"jane@example.com".to_vec(), b"[EMAIL_1]".to_vec())],
        restore: vec![(b"jane@example.com".to_vec(), b"[EMAIL_1]".to_vec())],
        ..Plan::default()
    };
    let fresh = || {
        ResponseGuard::with_request(&policy, &request, None)
            .expect("active")
            .in_dialect(dialect)
    };
    // A whole answer.
    if let Some(body) = fresh().filter_body(engine, scratch, input) {
        assert!(!is_json(input) || is_json(&body), "a whole answer stayed JSON");
    }
    // The same bytes as a stream: one event per line, `name|data` naming the event.
    let mut g = fresh();
    let (mut template, mut out) = (None, Vec::new());
    let mut all_json = true;
    for line in input.split(|b| *b == b'\n') {
        let (name, event) = match line.iter().position(|b| *b == b'|') {
            Some(at) if which & 0x80 != 0 => (Some(&line[..at]), &line[at + 1..]),
            _ => (None, line),
        };
        all_json &= event == b"[DONE]" || is_json(event);
        if g.filter_event(engine, scratch, name, event, &mut template, &mut out)
            == warden_dataplane::guard::response::ChunkOutcome::Blocked
        {
            break;
        }
    }
    g.end_of_stream(engine, scratch, &mut template, &mut out);
    if all_json {
        for event in written(&out) {
            assert!(event == b"[DONE]" || is_json(event), "{:?}", String::from_utf8_lossy(event));
        }
    }
}
