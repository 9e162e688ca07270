//! Project limits end to end: requests and tokens per minute counted across shards, the monthly
//! spend cap and its warning header, each refusal a 429 in the caller's dialect with the right
//! code and no upstream call. (Window and month boundaries are unit-tested in `limits.rs`, with
//! the clock injected.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::http::post_json;
use warden_tests::{chat_body, config, Driver, Gateway, Mock, KEY};

fn limited(mock: &Mock, limits: &str) -> String {
    config(mock.addr, 2, "").replace(
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]",
        &format!(
            "  {{ provider = \"google\", key = \"gm-key-5555\" }},\n]\n[tenants.projects.limits]\n{limits}"
        ),
    )
}

/// Wait out the last seconds of a minute, so a test's requests share one window.
fn early_in_a_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 60 > 50 {
        std::thread::sleep(std::time::Duration::from_secs(61 - now % 60));
    }
}

#[test]
fn the_request_over_the_minute_limit_gets_429_on_any_shard_in_any_dialect() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(
        Driver::IoUring,
        &limited(&mock, "requests_per_minute = 3\n"),
    );
    early_in_a_minute();
    // Fresh connections land on either shard; the count is the project's, not the shard's.
    for i in 0..3 {
        let res = gw.chat(&chat_body("gpt-4o", &format!("n{i}"), false));
        assert_eq!(res.status, 200, "{}", res.text());
    }
    let res = gw.chat(&chat_body("gpt-4o", "one too many", false));
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "rate_limit_exceeded");
    let retry: u32 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let native = post_json(
        gw.addr,
        "/v1/messages",
        KEY,
        &json!({"model": "claude-4-sonnet", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(native.status, 429);
    assert_eq!(native.json()["error"]["type"], "rate_limit_error");
    assert_eq!(
        mock.captured().len(),
        3,
        "no upstream call for refused requests"
    );
    // Both refusals are counted under their limit (the count follows the answer).
    let counted = warden_tests::eventually(std::time::Duration::from_secs(5), || {
        gw.metric("warden_limit_rejections_total{limit=\"requests_per_minute\"}") == Some(2)
    });
    assert!(counted.is_some(), "{}", gw.metrics());
    assert_eq!(
        gw.metric("warden_limit_rejections_total{limit=\"monthly_spend\"}"),
        Some(0)
    );
}

#[test]
fn a_request_whose_token_estimate_does_not_fit_is_refused() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::Epoll, &limited(&mock, "tokens_per_minute = 400\n"));
    early_in_a_minute();
    let body = |max: u64| json!({"model": "gpt-4o", "max_tokens": max, "messages": [{"role": "user", "content": "hello"}]});
    // ~20 prompt tokens + 300 asked for: reserved, then settled to what the mock used (a few).
    assert_eq!(gw.chat(&body(300)).status, 200);
    assert_eq!(
        gw.chat(&body(300)).status,
        200,
        "the first was settled to its real usage"
    );
    let over = gw.chat(&body(390));
    assert_eq!(over.status, 429, "{}", over.text());
    assert_eq!(over.json()["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        gw.metric("warden_limit_rejections_total{limit=\"tokens_per_minute\"}"),
        Some(1)
    );
}

#[test]
fn a_request_refused_after_admission_gives_its_reservation_back() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::Epoll, &limited(&mock, "tokens_per_minute = 1000\n"));
    early_in_a_minute();
    let body = |model: &str| json!({"model": model, "max_tokens": 600, "messages": [{"role": "user", "content": "hello"}]});
    // The project has no DeepSeek key: each request is admitted (600+ tokens reserved of 1000),
    // then refused for want of a key, and must hand its reservation back.
    for _ in 0..3 {
        let res = post_json(gw.addr, "/v1/chat/completions", KEY, &body("deepseek-chat"));
        assert_eq!(res.status, 400, "{}", res.text());
        assert_eq!(res.json()["error"]["code"], "provider_key_missing");
    }
    let res = gw.chat(&body("gpt-4o"));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(mock.captured().len(), 1);
}

#[test]
fn the_spend_cap_stops_requests_and_the_threshold_warns() {
    let mock = Mock::start(&[]);
    // Overhead alone: $0.10 per million input tokens, $0.20 per million output tokens.
    let gw = Gateway::start(
        Driver::IoUring,
        &limited(
            &mock,
            "monthly_spend_usd = \"0.000002\"\nmonthly_spend_warning_usd = \"0.0000001\"\n",
        ),
    );
    let first = gw.chat(&chat_body("gpt-4o", "hello there", false));
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-warden-budget-warning"), None);
    let second = gw.chat(&chat_body("gpt-4o", "hello there", true));
    assert_eq!(second.status, 200);
    assert!(
        second.header("x-warden-budget-warning").is_some(),
        "streams warn too"
    );
    let mut refused = None;
    for _ in 0..20 {
        let r = gw.chat(&chat_body("gpt-4o", "hello there", false));
        if r.status != 200 {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("the cap is reached");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"]["code"], "budget_exceeded");
    let before = mock.captured().len();
    assert_eq!(gw.chat(&chat_body("gpt-4o", "again", false)).status, 429);
    assert_eq!(
        mock.captured().len(),
        before,
        "no upstream call once the cap is reached"
    );
    assert_eq!(
        gw.metric("warden_limit_rejections_total{limit=\"monthly_spend\"}"),
        Some(2)
    );
}
