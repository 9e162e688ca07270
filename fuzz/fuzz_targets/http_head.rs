//! Request heads as they arrive from a client: the parser must return a head whose every span
//! lies inside the bytes it was given, or an error — never panic, never read out of bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::http::parse::{parse_request, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_head: 16 * 1024,
        max_headers: 64,
    };
    if let Ok(Some(head)) = parse_request(data, limits) {
        assert!(head.len <= data.len());
        let spans = [
            Some(head.path),
            head.authorization,
            head.x_api_key,
            head.x_goog_api_key,
            head.request_id,
            head.anthropic_version,
            head.anthropic_beta,
        ];
        for s in spans.into_iter().flatten() {
            assert!(s.start <= s.end && s.end as usize <= head.len);
            let _ = s.get(data);
        }
        // Whatever follows the head cannot change how the head parses.
        let again = parse_request(&data[..head.len], limits);
        assert!(matches!(again, Ok(Some(h)) if h.len == head.len));
    }
});
