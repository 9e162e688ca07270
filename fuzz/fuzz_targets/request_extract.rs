//! Client request bodies through the request side: validation, the repeated-key refusal, the
//! texts the guardrails read in every dialect, the guardrails themselves (redacting all they
//! find) and the translators to Anthropic and Gemini. Whatever a translator writes must be JSON,
//! and a body the guardrails rewrote must stay JSON.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_dataplane::guard::engine::Engine;
use warden_dataplane::translate::{anthropic, gemini};
use warden_shared::catalog::Dialect;
use warden_shared::snapshot::{GuardAction, GuardrailPolicy};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("detectors compile"))
}

fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    let Ok((_fields, value)) = warden_dataplane::route::parse_chat(data, &mut scratch) else {
        return;
    };
    if warden_dataplane::route::refuse_duplicate_keys(data).is_err() {
        return;
    }
    let engine = engine();
    let guard_scratch = engine.scratch().expect("scratch");
    let policy = GuardrailPolicy {
        pii: GuardAction::Redact,
        secrets: GuardAction::Redact,
        injection: GuardAction::Flag,
        content_safety: GuardAction::Flag,
        unscanned: GuardAction::Flag,
        ..GuardrailPolicy::default()
    };
    for dialect in [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini] {
        let plan = warden_dataplane::guard::apply::check(
            engine, (&guard_scratch, None), None, dialect, &value, &policy,
        );
        if let Ok(rewritten) = warden_dataplane::guard::apply::rewrite(data, &plan.replacements) {
            assert!(is_json(&rewritten) || !is_json(data), "a redaction broke the JSON");
        }
    }
    let mut out = Vec::new();
    if anthropic::request(&value, "claude-x", true, &mut out).is_ok() {
        assert!(is_json(&out), "{}", String::from_utf8_lossy(&out));
    }
    out.clear();
    if gemini::request(&value, &mut out).is_ok() {
        assert!(is_json(&out), "{}", String::from_utf8_lossy(&out));
    }
});
