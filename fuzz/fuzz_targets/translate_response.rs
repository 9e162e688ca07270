//! Whole provider answers (Anthropic and Gemini) translated for an OpenAI client: anything the
//! translator writes is a JSON chat completion; bad bodies are errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::translate::{anthropic, gemini, Meta};

fn meta() -> Meta {
    Meta {
        id: "chatcmpl-fuzz".into(),
        model: "alias".into(),
        created: 1,
        include_usage: true,
        json_tool: false,
        show_reasoning: true,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut body = data.to_vec();
    if anthropic::response(&mut body, &meta(), &mut out).is_ok() {
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
    }
    out.clear();
    let mut body = data.to_vec();
    if gemini::response(&mut body, &meta(), "req", &mut out).is_ok() {
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
    }
});
