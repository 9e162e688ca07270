//! Token counts on the native routes — Anthropic's `POST /v1/messages/count_tokens`, Gemini's
//! `…:countTokens` and OpenAI's `POST /v1/responses/input_tokens` — as a client and an auditor
//! see them: the provider's count comes back as it
//! sent it, the text reaches the provider only as the request guardrails let it (a count sends
//! the prompt out all the same), nothing is cached or metered as generated tokens, and the
//! record names the route.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::http::call;
use warden_tests::{audit_export, config, Driver, Gateway, Mock, KEY};

const EMAIL: &str = "jane.doe@example.com";
const GH_TOKEN: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

/// The standard config with PII redacted, secrets blocked and the answer cache on.
fn counted(mock: &Mock) -> String {
    let google = "  { provider = \"google\", key = \"gm-key-5555\" },\n]";
    config(mock.addr, 1, "").replace(
        google,
        &format!("{google}\n[tenants.projects.guardrails]\npii = \"redact\"\nsecrets = \"block\"\n[tenants.projects.cache]\nmode = \"exact\"\n"),
    )
}

/// The request the provider got last: its path, and its body, checked to carry the address as
/// a placeholder only.
fn last_sent(mock: &Mock) -> (String, serde_json::Value) {
    let sent = mock.captured().pop().unwrap();
    let body = sent["body"].to_string();
    assert!(
        body.contains("[EMAIL_1]") && !body.contains(EMAIL),
        "{body}"
    );
    (sent["path"].as_str().unwrap().to_owned(), sent)
}

#[test]
fn counts_come_back_as_the_provider_gave_them_from_redacted_text() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &counted(&mock));
    let count = |path: &str, body: &serde_json::Value| {
        let res = call(gw.addr, "POST", path, KEY, Some(body));
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert!(
            res.header("x-warden-cache").is_none(),
            "counts are not cached"
        );
        res.json()
    };
    let text = format!("please write to {EMAIL} about the invoice");
    // Anthropic: the same body as a Messages request, without max_tokens.
    let claude = json!({"model": "claude-4-sonnet", "system": "be brief",
        "messages": [{"role": "user", "content": text}]});
    assert_eq!(
        count("/v1/messages/count_tokens", &claude),
        json!({"input_tokens": 9})
    );
    let (path, sent) = last_sent(&mock);
    assert_eq!(path, "/v1/messages/count_tokens");
    assert!(sent["headers"]["anthropic-version"].is_string());
    assert_eq!(
        sent["body"]["model"], "claude-sonnet-4-6",
        "the upstream model"
    );
    // Gemini, with `contents` and with a whole request under `generateContentRequest`.
    for body in [
        json!({"contents": [{"role": "user", "parts": [{"text": text}]}]}),
        json!({"generateContentRequest": {"model": "models/gemini-2.0-flash",
            "contents": [{"role": "user", "parts": [{"text": text}]}]}}),
    ] {
        let path = "/v1beta/models/gemini-2.0-flash:countTokens";
        assert_eq!(count(path, &body)["totalTokens"], 7);
        assert!(last_sent(&mock).0.ends_with(":countTokens"));
    }
    // OpenAI's count for a Responses request.
    let gpt = json!({"model": "gpt-4o", "instructions": "be brief", "input": text});
    assert_eq!(
        count("/v1/responses/input_tokens", &gpt),
        json!({"object": "response.input_tokens", "input_tokens": 9})
    );
    assert_eq!(last_sent(&mock).0, "/v1/responses/input_tokens");
    // The same request again is asked again: nothing was kept.
    let before = mock.captured().len();
    count("/v1/messages/count_tokens", &claude);
    assert_eq!(mock.captured().len(), before + 1);
    // Recorded under their own routes, with no tokens generated or estimated.
    let records = audit_export(&gw.audit_dir());
    let counts: Vec<_> = records
        .iter()
        .filter(|r| r["kind"] == "response")
        .filter(|r| {
            matches!(
                r["route"].as_str(),
                Some("messages_count_tokens" | "count_tokens" | "responses_input_tokens")
            )
        })
        .collect();
    assert_eq!(counts.len(), 5, "{records:#?}");
    for r in counts {
        assert_eq!(r["usage"]["output_tokens"], 0, "{r}");
        assert_eq!(r["usage"]["input_tokens"], 0, "{r}");
        assert_ne!(r["usage_estimated"], true, "{r}");
    }
    assert!(gw.metrics().contains("route=\"messages_count_tokens\""));
}

#[test]
fn counts_are_refused_as_their_messages_would_be() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::Epoll, &counted(&mock));
    // A secret is blocked, in Anthropic's dialect, and never reaches the provider.
    let body = json!({"model": "claude-4-sonnet",
        "messages": [{"role": "user", "content": format!("deploy with {GH_TOKEN}")}]});
    let res = call(
        gw.addr,
        "POST",
        "/v1/messages/count_tokens",
        KEY,
        Some(&body),
    );
    assert_eq!(res.status, 400, "{}", res.text());
    assert_eq!(res.json()["type"], "error");
    assert_eq!(res.json()["error"]["type"], "invalid_request_error");
    assert!(!res.text().contains(GH_TOKEN));
    // Another provider's model, an unknown one, a wrong key, another method: the errors the
    // Messages route gives.
    let openai = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let res = call(
        gw.addr,
        "POST",
        "/v1/messages/count_tokens",
        KEY,
        Some(&openai),
    );
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.text().contains("another provider"), "{}", res.text());
    let unknown = json!({"model": "nope", "messages": []});
    let res = call(
        gw.addr,
        "POST",
        "/v1/messages/count_tokens",
        KEY,
        Some(&unknown),
    );
    assert_eq!(res.status, 404, "{}", res.text());
    let res = call(
        gw.addr,
        "POST",
        "/v1/messages/count_tokens",
        "wdn_nope",
        Some(&body),
    );
    assert_eq!(res.status, 401, "{}", res.text());
    let res = call(gw.addr, "GET", "/v1/messages/count_tokens", KEY, None);
    assert_eq!(res.status, 405, "{}", res.text());
    let res = call(
        gw.addr,
        "POST",
        "/v1beta/models/gemini-2.0-flash:countTokens",
        KEY,
        Some(&json!({"contents": [{"parts": [{"text": format!("deploy with {GH_TOKEN}")}]}]})),
    );
    assert_eq!(res.status, 400, "{}", res.text());
    assert_eq!(res.json()["error"]["status"], "INVALID_ARGUMENT");
    assert!(mock.captured().is_empty(), "nothing reached the provider");
}
