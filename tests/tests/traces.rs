//! Tracing never holds a request: with the OTLP collector unreachable and a tiny span queue,
//! every request is answered, the spans that did not fit are dropped and counted, and the batches
//! that could not be delivered are counted as failed. A client's `traceparent` still reaches the
//! provider with tracing off, and a malformed one is not passed on. (Spans against a receiver
//! that decodes OTLP: tests/python/test_otlp_traces.py.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::http::post_json_with;
use warden_tests::{chat_body, config, eventually, Driver, Gateway, Mock, KEY};

#[test]
fn an_unreachable_collector_and_a_full_queue_cost_spans_never_requests() {
    let mock = Mock::start(&[]);
    let text = format!(
        "{}\n[telemetry]\notlp_endpoint = \"http://127.0.0.1:9/v1/traces\"\nqueue = 4\n",
        config(mock.addr, 1, "")
    );
    let gw = Gateway::start(Driver::IoUring, &text);
    for i in 0..30 {
        let r = gw.chat(&chat_body("gpt-4o", &format!("n{i}"), false));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let counted = eventually(Duration::from_secs(15), || {
        gw.metric("warden_trace_spans_dropped_total").unwrap_or(0) > 0
            && gw.metric("warden_trace_spans_failed_total").unwrap_or(0) > 0
    });
    assert!(counted.is_some(), "{}", gw.metrics());
    assert_eq!(gw.metric("warden_trace_spans_exported_total"), Some(0));
}

#[test]
fn with_tracing_off_a_valid_client_context_is_passed_on_and_a_bad_one_is_not() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let upper = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    let zero = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
    for (headers, forwarded) in [
        (vec![("traceparent", valid)], Some(valid)),
        (vec![("traceparent", upper)], None),
        (vec![("traceparent", zero)], None),
        (vec![("traceparent", "garbage")], None),
        // Twice: which one counts would be a guess.
        (vec![("traceparent", valid), ("traceparent", valid)], None),
    ] {
        let r = post_json_with(
            gw.addr,
            "/v1/chat/completions",
            KEY,
            &chat_body("gpt-4o", "hi", false),
            &headers,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let sent = mock.captured().pop().unwrap();
        assert_eq!(
            sent["headers"]["traceparent"].as_str(),
            forwarded,
            "{headers:?}"
        );
    }
    assert!(
        !gw.metrics().contains("warden_trace_spans"),
        "no exporter without [telemetry]"
    );
}
