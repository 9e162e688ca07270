//! Request guardrails end to end: a blocked request never reaches the provider; redacted values
//! are replaced by placeholders in what the provider receives, whatever dialect the client speaks;
//! flagged requests go through unchanged; verdicts (never values) reach the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::http::{call, Conn};
use warden_tests::{audit_export, chat_body, config, Driver, Gateway, Mock, KEY};

/// The standard config with a policy for the main project.
fn guarded(mock: &Mock, pii: &str, secrets: &str) -> String {
    config(mock.addr, 1, "").replace(
        "  {{ provider = \"google\", key = \"gm-key-5555\" }},\n]".replace("{{", "{").replace("}}", "}").as_str(),
        &format!(
            "  {{ provider = \"google\", key = \"gm-key-5555\" }},\n]\n[tenants.projects.guardrails]\npii = \"{pii}\"\nsecrets = \"{secrets}\"\n"
        ),
    )
}

const CARD: &str = "4111 1111 1111 1111";
const EMAIL: &str = "jane.doe@example.com";
const GH_TOKEN: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

#[test]
fn blocked_requests_never_reach_the_provider() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &guarded(&mock, "flag", "block"));
    let res = gw.chat(&chat_body(
        "gpt-4o",
        &format!("deploy with token {GH_TOKEN} please"),
        false,
    ));
    assert_eq!(res.status, 400, "{}", res.text());
    let err = &res.json()["error"];
    assert_eq!(err["code"], "guardrail_blocked");
    assert!(err["message"].as_str().unwrap().contains("secrets"));
    assert!(
        !res.text().contains(GH_TOKEN),
        "the matched value is never echoed"
    );
    assert!(mock.captured().is_empty(), "no upstream call");
    // The same secret in an Anthropic-native request is blocked in Anthropic's dialect.
    let body = json!({"model": "claude-4-sonnet", "max_tokens": 16, "messages": [{"role": "user", "content": format!("token {GH_TOKEN}")}]});
    let mut c = Conn::open(gw.addr);
    let text = body.to_string();
    c.send(
        format!(
            "POST /v1/messages HTTP/1.1\r\nx-api-key: {KEY}\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        )
        .as_bytes(),
    );
    let res = c.read_response().unwrap();
    assert_eq!(
        (res.status, res.json()["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    assert!(mock.captured().is_empty());
    let records = audit_export(&gw.audit_dir());
    let v = records
        .iter()
        .find(|r| r["status"] == 400)
        .expect("the block is audited");
    assert_eq!(v["verdicts"][0]["detector"], "github_token");
    assert_eq!(v["verdicts"][0]["action"], "block");
    assert!(!serde_json::to_string(&records).unwrap().contains(GH_TOKEN));
}

#[test]
fn redacted_values_reach_no_provider_in_any_dialect() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::Epoll, &guarded(&mock, "redact", "redact"));
    let text =
        format!("Charge {CARD} and mail {EMAIL}; my token is {GH_TOKEN}. Also mail {EMAIL} again.");
    for alias in ["gpt-4o", "claude-4-sonnet", "gemini-2.0-flash"] {
        let res = gw.chat(&chat_body(alias, &text, false));
        assert_eq!(res.status, 200, "{alias}: {}", res.text());
        let sent = mock.captured().pop().unwrap().to_string();
        for value in [CARD, EMAIL, GH_TOKEN] {
            assert!(
                !sent.contains(value),
                "{alias}: {value} reached the provider: {sent}"
            );
        }
        for placeholder in ["[CARD_1]", "[EMAIL_1]", "[SECRET_1]"] {
            assert!(
                sent.contains(placeholder),
                "{alias}: {placeholder} missing: {sent}"
            );
        }
        assert!(
            !sent.contains("[EMAIL_2]"),
            "the same value gets the same placeholder"
        );
        // The mock echoes what it received: the client sees placeholders, not values.
        assert!(res.text().contains("[CARD_1]"));
    }
    // Gemini-native requests are redacted too.
    let body = json!({"contents": [{"role": "user", "parts": [{"text": format!("card {CARD}")}]}]});
    let res = call(
        gw.addr,
        "POST",
        "/v1beta/models/gemini-2.0-flash:generateContent",
        KEY,
        Some(&body),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let sent = mock.captured().pop().unwrap().to_string();
    assert!(sent.contains("[CARD_1]") && !sent.contains(CARD), "{sent}");
    let metrics = gw.metrics();
    assert!(
        metrics.contains("warden_guardrail_verdicts_total{category=\"pii\",action=\"redact\"}"),
        "{metrics}"
    );
}

#[test]
fn flagged_requests_go_through_unchanged_and_are_recorded() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &guarded(&mock, "flag", "off"));
    let res = gw.chat(&chat_body("gpt-4o", &format!("email me at {EMAIL}"), false));
    assert_eq!(res.status, 200);
    assert!(mock.captured().pop().unwrap().to_string().contains(EMAIL));
    let records = audit_export(&gw.audit_dir());
    let r = records.iter().find(|r| r["kind"] == "response").unwrap();
    assert_eq!(
        r["verdicts"],
        json!([{"category": "pii", "detector": "email", "action": "flag", "count": 1}])
    );
    assert!(
        !serde_json::to_string(&records).unwrap().contains(EMAIL),
        "verdicts carry counts, not values"
    );
    // Hard negatives pass without verdicts: a checksum-invalid card number, an order number.
    let res = gw.chat(&chat_body(
        "gpt-4o",
        "Order 4111 1111 1111 1112 shipped, tracking 1Z999AA10123456784.",
        false,
    ));
    assert_eq!(res.status, 200);
    let records = audit_export(&gw.audit_dir());
    let last = records
        .iter()
        .rev()
        .find(|r| r["kind"] == "response")
        .unwrap();
    assert!(last.get("verdicts").is_none(), "{last}");
}
