//! Provider event streams (Anthropic and Gemini) translated into OpenAI chunks event by event:
//! every `data:` the client gets is JSON or `[DONE]`, whatever events arrive in whatever order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::sse::events_in;
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

fn check(out: &[u8]) {
    for e in events_in(out) {
        assert!(
            &*e.data == b"[DONE]" || serde_json::from_slice::<serde_json::Value>(&e.data).is_ok(),
            "{}",
            String::from_utf8_lossy(&e.data)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut claude = anthropic::Stream::new(meta());
    for e in events_in(data) {
        if claude.event(e.name, &e.data, &mut out).is_err() {
            break;
        }
    }
    claude.finish(&mut out);
    check(&out);
    out.clear();
    let mut gem = gemini::Stream::new(meta(), "req".into());
    for e in events_in(data) {
        if gem.event(&e.data, &mut out).is_err() {
            break;
        }
    }
    gem.finish(&mut out);
    check(&out);
});
