//! The end of a Responses event stream that broke off (the provider) or was stopped (a
//! guardrail), written the same way whether the stream was made from chat chunks or passed
//! through from OpenAI's own Responses API — and, for a passed-through stream, what that ending
//! needs, noted as the events go by ([`note_events`]).

use std::io::Write;

use simd_json::prelude::*;

use crate::http::respond::json_string;
use crate::translate::json::Obj;

/// The end of a Responses stream that broke off or was stopped, in the Responses API's shape:
/// an `error` event, then `response.failed` with the stream's `response.created` object (when
/// known) marked failed, no output. `sequence` is the next number the client expects.
pub fn failed_events(
    out: &mut Vec<u8>,
    created: Option<&[u8]>,
    sequence: &mut u64,
    (code, message): (&str, &str),
) {
    let mut event = |out: &mut Vec<u8>, kind: &str, body: &dyn Fn(&mut Obj<'_>)| {
        let _ = write!(out, "event: {kind}\ndata: ");
        let mut o = Obj::new(out);
        json_string(o.key("type"), kind);
        body(&mut o);
        o.num("sequence_number", *sequence);
        o.end();
        out.extend_from_slice(b"\n\n");
        *sequence += 1;
    };
    event(out, "error", &|o| {
        o.str("code", code);
        o.str("message", message);
        o.raw("param", b"null");
    });
    let mut error = Vec::with_capacity(64 + message.len());
    let mut e = Obj::new(&mut error);
    e.str("code", code);
    e.str("message", message);
    e.end();
    let mut copy = created.map(<[u8]>::to_vec).unwrap_or_default();
    let response = match simd_json::to_borrowed_value(&mut copy) {
        Ok(simd_json::BorrowedValue::Object(mut r)) => {
            r.insert("status".into(), "failed".into());
            r.insert(
                "output".into(),
                simd_json::BorrowedValue::Array(Box::default()),
            );
            r.remove("error");
            let mut bytes = simd_json::BorrowedValue::Object(r).encode().into_bytes();
            // The error object goes in as written above.
            bytes.pop();
            bytes.extend_from_slice(b",\"error\":");
            bytes.extend_from_slice(&error);
            bytes.push(b'}');
            bytes
        }
        _ => {
            let mut r =
                b"{\"object\":\"response\",\"status\":\"failed\",\"output\":[],\"error\":".to_vec();
            r.extend_from_slice(&error);
            r.push(b'}');
            r
        }
    };
    event(out, "response.failed", &|o| o.raw("response", &response));
}

/// The next sequence number after `events` (OpenAI Responses events, whole), and the
/// `response.created` object once it goes by. Only reads the bytes; most events are deltas.
pub fn note_events(events: &[u8], sequence: &mut u64, created: &mut Option<Vec<u8>>) {
    const KEY: &[u8] = b"\"sequence_number\":";
    if let Some(at) = memchr::memmem::rfind(events, KEY) {
        let digits = &events[at + KEY.len()..];
        let end = digits
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(digits.len());
        if let Some(n) = std::str::from_utf8(&digits[..end])
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
        {
            *sequence = n + 1;
        }
    }
    if created.is_none() && memchr::memmem::find(events, b"response.created").is_some() {
        for e in crate::sse::events_in(events) {
            let mut copy = e.data.to_vec();
            if let Ok(v) = simd_json::to_borrowed_value(&mut copy) {
                use simd_json::prelude::*;
                if v.get("type").and_then(|t| t.as_str()) == Some("response.created") {
                    *created = v.get("response").map(|r| r.encode().into_bytes());
                }
            };
        }
    }
}
