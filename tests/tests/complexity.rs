//! Complexity routing end to end: `model: "auto"` is scored and sent to its tier's model; the
//! answer names the model that answered and `x-warden-route` explains the tier; a tier whose
//! provider the project has no key for moves to the nearest one it can serve.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::http::post_json;
use warden_tests::{chat_body, config, Driver, Gateway, Mock, KEY};

#[test]
fn auto_routes_by_tier_and_says_why() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let cases = [
        ("What is the capital of France?", "simple", "gpt-4o-mini"),
        (
            "Write a short story about a lighthouse keeper.",
            "medium",
            "gpt-4o",
        ),
        // Asking for a program is a programming task: complex (docs/routing.md).
        (
            "Write a Python function that reverses a string.",
            "complex",
            "claude-sonnet-4-6",
        ),
        (
            "Refactor this and add unit tests: ```python\ndef f(x):\n    return x\n```",
            "complex",
            "claude-sonnet-4-6",
        ),
        (
            "Prove step by step that the square root of 2 is irrational.",
            "reasoning",
            "o3",
        ),
    ];
    for (prompt, tier, upstream) in cases {
        for stream in [false, true] {
            let res = gw.chat(&chat_body("auto", prompt, stream));
            assert_eq!(res.status, 200, "{}", res.text());
            let route = res.header("x-warden-route").unwrap().to_owned();
            assert!(
                route.starts_with(&format!("tier={tier};")),
                "{prompt}: {route}"
            );
            let sent = mock.captured().pop().unwrap();
            assert_eq!(sent["body"]["model"], upstream, "{prompt}");
        }
    }
    // The answer names the model that answered (the alias on translated routes).
    let res = gw.chat(&chat_body("auto", cases[2].0, false));
    assert_eq!(res.json()["model"], "claude-4-sonnet");
}

#[test]
fn a_tier_the_project_cannot_serve_moves_to_the_nearest_it_can() {
    let mock = Mock::start(&[]);
    // Only an Anthropic key: every tier lands on claude-4-sonnet (complex), the nearest served.
    let text = config(mock.addr, 1, "").replace(
        "  { provider = \"openai\", key = \"sk-test-provider-abcd\" },\n",
        "",
    );
    let gw = Gateway::start(Driver::IoUring, &text);
    let res = post_json(
        gw.addr,
        "/v1/chat/completions",
        KEY,
        &json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(res
        .header("x-warden-route")
        .unwrap()
        .contains("model=claude-4-sonnet"));
}
