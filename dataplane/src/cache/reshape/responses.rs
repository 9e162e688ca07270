//! OpenAI's Responses API: a kept stream served whole. Its last event, `response.completed` (or
//! `response.incomplete`), carries the whole response object — what the API answers a request
//! that does not stream — so nothing is joined: that object is the body. The other way (a kept
//! response as the API's many typed events) is not built: a streamed request that finds a kept
//! response is a miss, and its stream is kept in its place.

use memchr::memmem;
use simd_json::prelude::*;

use super::parse;
use crate::sse::events_in;

/// The events that matter here: two endings that carry the whole response, and two failures.
const KINDS: [&[u8]; 4] = [
    b"response.completed",
    b"response.incomplete",
    b"response.failed",
    b"error",
];
/// The same, as an event's data says it when the stream names no events.
const TYPED: [&[u8]; 4] = [
    br#""type":"response.completed""#,
    br#""type":"response.incomplete""#,
    br#""type":"response.failed""#,
    br#""type":"error""#,
];

pub fn to_body(stream: &[u8]) -> Option<Vec<u8>> {
    let mut body = None;
    for e in events_in(stream) {
        // Most events are deltas: only an ending (or a failure) is parsed.
        let kind = match e.name {
            Some(name) => KINDS.iter().position(|k| *k == name),
            None => TYPED
                .iter()
                .position(|t| memmem::find(&e.data, t).is_some()),
        };
        match kind {
            Some(0 | 1) => {}
            Some(_) => return None,
            None => continue,
        }
        let event = parse(&e.data)?;
        let response = event.get("response").filter(|r| r.is_object())?;
        let mut out = Vec::with_capacity(e.data.len());
        let _ = response.write(&mut out);
        body = Some(out);
    }
    body
}
