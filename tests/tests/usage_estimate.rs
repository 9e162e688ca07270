//! A provider that answers without usage (some OpenAI-compatible ones ignore
//! `stream_options.include_usage`) cannot make a request free: Warden meters it from an estimate
//! (a token per four bytes each way), marks the audit record `usage_estimated`, and counts it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::{audit_export, chat_body, config, eventually, Driver, Gateway, Mock};

#[test]
fn answers_without_usage_are_metered_from_an_estimate_and_marked() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let streamed = gw.chat(&chat_body(
        "gpt-4o",
        "a b c d mock:chunks=4 mock:no_usage=1",
        true,
    ));
    assert_eq!(streamed.status, 200);
    assert_eq!(streamed.events().last().map(String::as_str), Some("[DONE]"));
    let whole = gw.chat(&chat_body("gpt-4o", "whole mock:no_usage=1", false));
    assert_eq!(whole.status, 200, "{}", whole.text());
    assert!(
        whole.json().get("usage").is_none(),
        "the provider sent none"
    );
    let normal = gw.chat(&chat_body("gpt-4o", "normal", true));
    assert_eq!(normal.status, 200);
    let counted = eventually(Duration::from_secs(10), || {
        gw.metric("warden_usage_estimated_total") == Some(2)
    });
    assert!(counted.is_some(), "{}", gw.metrics());

    let responses: Vec<serde_json::Value> = audit_export(&gw.audit_dir())
        .into_iter()
        .filter(|r| r["kind"] == "response")
        .collect();
    assert_eq!(responses.len(), 3);
    for r in &responses[..2] {
        assert_eq!(r["usage_estimated"], true, "{r}");
        assert!(r["usage"]["input_tokens"].as_u64().unwrap() > 10, "{r}");
        assert!(r["usage"]["output_tokens"].as_u64().unwrap() > 0, "{r}");
    }
    assert!(
        responses[2].get("usage_estimated").is_none(),
        "{}",
        responses[2]
    );
    assert!(responses[2]["usage"]["output_tokens"].as_u64().unwrap() > 0);
}
