//! The conversions of the newer routes on any bytes: a Responses request to the chat request it
//! becomes, chat answers and chat event streams to Responses objects and typed events, and
//! OpenAI embeddings requests to Gemini's and Gemini's answers back. Whatever they write must be
//! JSON (every event's data too), and the chat request a Responses request became must pass the
//! chat route's own validation — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::sse::events_in;
use warden_dataplane::translate::embeddings::{self, EmbedMeta};
use warden_dataplane::translate::responses::{self, stream::Stream, Echo};

fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

fn echo(fields: Vec<u8>) -> Echo {
    Echo {
        id: "resp_fuzz".into(),
        model: "alias".into(),
        created_at: 1,
        fields,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut copy = data.to_vec();
    if let Ok(value) = simd_json::to_borrowed_value(&mut copy) {
        let mut chat = Vec::new();
        if let Ok(fields) = responses::request(&value, &mut chat) {
            assert!(is_json(&chat), "{}", String::from_utf8_lossy(&chat));
            let mut scratch = Vec::new();
            // A model that is not a string is refused before conversion; anything else parses.
            let parsed = warden_dataplane::route::parse_chat(&chat, &mut scratch);
            assert!(
                parsed.is_ok(),
                "{:?}: {}",
                parsed.err(),
                String::from_utf8_lossy(&chat)
            );
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
    let mut stream = Stream::new(echo(b"\"store\":false".to_vec()));
    let mut out = Vec::new();
    stream.events(data, &mut out);
    stream.close(&mut out);
    for e in events_in(&out) {
        assert!(is_json(&e.data), "{}", String::from_utf8_lossy(&e.data));
    }
});
