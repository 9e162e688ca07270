//! Chunked request bodies: decoding all at once and in two pieces split anywhere must agree
//! (same bytes, same end, same refusal) — a decoder whose answer depends on how TCP cut the
//! stream is a smuggling bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::http::body::ChunkedDecoder;

const LIMIT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let mut whole = ChunkedDecoder::new(LIMIT);
    let mut out_whole = Vec::new();
    let r_whole = whole.decode(input, &mut out_whole);

    let at = if input.is_empty() { 0 } else { cut as usize % (input.len() + 1) };
    let mut split = ChunkedDecoder::new(LIMIT);
    let mut out_split = Vec::new();
    let r_split = split.decode(&input[..at], &mut out_split).and_then(|first| {
        if split.is_done() {
            Ok(first)
        } else {
            split
                .decode(&input[at..], &mut out_split)
                .map(|second| first + second)
        }
    });
    match (r_whole, r_split) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "consumed");
            assert_eq!(out_whole, out_split, "decoded bytes");
            assert_eq!(whole.is_done(), split.is_done());
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("whole {a:?} vs split at {at}: {b:?}"),
    }
    assert!(out_whole.len() as u64 <= LIMIT);
});
