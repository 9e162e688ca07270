//! A kept answer served in the other shape (`cache/reshape.rs`) on any bytes, for every format
//! and both directions: never a panic, and whatever comes out is what a client's parser takes —
//! one JSON body, or events whose every data line is JSON (or OpenAI's `[DONE]`). A stream made
//! from a body converts back into a body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::cache::reshape::reshape;
use warden_dataplane::cache::Wire;
use warden_dataplane::sse::events_in;

/// Whether `bytes` is one JSON document. Checked for syntax alone: building a
/// `serde_json::Value` would refuse objects whose first key is serde_json's private raw-value
/// token, which is valid JSON a provider may send.
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

fuzz_target!(|data: &[u8]| {
    for wire in [
        Wire::OpenAiChat,
        Wire::OpenAiResponses,
        Wire::Anthropic,
        Wire::Gemini,
    ] {
        if let Some(body) = reshape(wire, true, data) {
            assert!(is_json(&body), "{}", String::from_utf8_lossy(&body));
        }
        if let Some(stream) = reshape(wire, false, data) {
            for e in events_in(&stream) {
                assert!(
                    &*e.data == b"[DONE]" || is_json(&e.data),
                    "{}",
                    String::from_utf8_lossy(&e.data)
                );
            }
            assert!(
                reshape(wire, true, &stream).is_some(),
                "{wire:?}: {}",
                String::from_utf8_lossy(&stream)
            );
        }
    }
});
