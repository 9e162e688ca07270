//! Replies from the cache's shared tier (a Redis server is network input like any other): the
//! parser never panics, never reads past its bound, and a reply complete in a prefix of the
//! bytes is the reply the whole bytes give (reads of any size agree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::cache::redis::parse_reply;

fuzz_target!(|data: &[u8]| {
    let Some((&bound, bytes)) = data.split_first() else {
        return;
    };
    let bytes = &bytes[..bytes.len().min(4096)];
    let max = usize::from(bound) * 8;
    let whole = parse_reply(bytes, max).ok();
    for cut in 0..bytes.len() {
        if let Ok(Some(reply)) = parse_reply(&bytes[..cut], max) {
            assert_eq!(whole, Some(Some(reply.clone())), "cut at {cut}");
            if let Some(v) = &reply {
                assert!(v.len() <= max);
            }
        }
    }
});
