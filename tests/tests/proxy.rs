//! Requests through the gateway to the mock provider, on both I/O drivers: what the client gets
//! back, and what the provider received.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use serde_json::json;
use warden_tests::{chat_body, config, http, Gateway, Mock, DRIVERS, KEY};

#[test]
fn non_stream_chat_is_forwarded_with_the_tenant_key_and_upstream_model() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &config(mock.addr, 2, ""));
        let res = gw.chat(&chat_body("fast", "hello there", false));
        assert_eq!(res.status, 200, "{driver:?}: {}", res.text());
        assert!(res
            .header("x-request-id")
            .is_some_and(|v| v.starts_with("req_")));
        let body = res.json();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            "echo: hello there"
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(body["usage"]["total_tokens"], 5);

        let sent = mock.captured().pop().expect("the mock saw the request");
        assert_eq!(sent["path"], "/v1/chat/completions");
        assert_eq!(
            sent["body"]["model"], "gpt-4o-mini-2024-07-18",
            "alias rewritten to the upstream model"
        );
        assert_eq!(sent["body"]["messages"][0]["content"], "hello there");
        assert_eq!(
            sent["headers"]["authorization"], "****abcd",
            "the tenant's provider key, not the Warden key"
        );
        assert!(
            !sent.to_string().contains(KEY),
            "the Warden key must not reach the provider"
        );
    }
}

#[test]
fn stream_chat_passes_every_event_through_in_order() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &config(mock.addr, 2, ""));
        let mut body = chat_body("gpt-4o", "one two three four mock:chunks=4", true);
        body["stream_options"] = json!({"include_usage": true});
        let res = gw.chat(&body);
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-type"), Some("text/event-stream"));
        let events = res.events();
        assert_eq!(
            events.last().map(String::as_str),
            Some("[DONE]"),
            "{driver:?}: {events:?}"
        );
        let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).expect("chunk JSON"))
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "echo: one two three four mock:chunks=4");
        assert_eq!(
            chunks.len(),
            1 + 4 + 1 + 1,
            "role, 4 content, finish, usage"
        );
        let usage = chunks.last().expect("usage chunk");
        assert_eq!(usage["choices"], json!([]));
        assert!(usage["usage"]["completion_tokens"].as_u64().is_some());
    }
}

#[test]
fn groq_and_deepseek_go_to_their_own_base_urls() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(warden_tests::Driver::IoUring, &config(mock.addr, 1, ""));
    let res = gw.chat(&chat_body("llama-3.3-70b-versatile", "hi", false));
    assert_eq!(res.status, 200, "{}", res.text());
    let sent = mock.captured().pop().expect("captured");
    assert_eq!(sent["path"], "/openai/v1/chat/completions");
    assert_eq!(sent["headers"]["authorization"], "****9999");

    let res = gw.chat(&chat_body("deepseek-chat", "hi", false));
    assert_eq!(res.status, 400, "no DeepSeek key configured");
    assert_eq!(res.json()["error"]["code"], "provider_key_missing");
    assert_eq!(res.json()["error"]["param"], "model");
}

#[test]
fn models_lists_the_aliases_this_key_may_use() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(warden_tests::Driver::IoUring, &config(mock.addr, 1, ""));
    let res = http::get_with_key(gw.addr, "/v1/models", Some(KEY));
    assert_eq!(res.status, 200);
    let ids: Vec<String> = res.json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["id"].as_str().unwrap_or("").to_owned())
        .collect();
    for alias in [
        "gpt-4o",
        "gpt-4o-mini",
        "o3",
        "o3-mini",
        "fast",
        "llama-3.3-70b-versatile",
        "claude-4-sonnet",
        "gemini-2.0-flash",
    ] {
        assert!(
            ids.contains(&alias.to_owned()),
            "{alias} missing from {ids:?}"
        );
    }
    assert!(
        !ids.contains(&"deepseek-chat".to_owned()),
        "no DeepSeek key, no DeepSeek aliases"
    );
    let res = http::get_with_key(gw.addr, "/v1/models", Some("wdn_no_provider_keys"));
    assert_eq!(res.json()["data"], json!([]));
}

#[test]
fn auth_and_routing_errors_are_openai_shaped() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(warden_tests::Driver::IoUring, &config(mock.addr, 1, ""));
    let body = chat_body("gpt-4o", "x", false);
    let cases = [
        (
            http::post_json(gw.addr, "/v1/chat/completions", "wdn_wrong", &body),
            401,
            "invalid_api_key",
        ),
        (http::get(gw.addr, "/v1/models"), 401, "missing_api_key"),
        (
            gw.chat(&chat_body("gpt-9000", "x", false)),
            404,
            "model_not_found",
        ),
        (http::get(gw.addr, "/v1/nothing-here"), 404, "unknown_url"),
        (
            http::get_with_key(gw.addr, "/v1/chat/completions", Some(KEY)),
            405,
            "method_not_allowed",
        ),
        (gw.chat(&json!({"model": "gpt-4o"})), 400, "invalid_request"),
    ];
    for (res, status, code) in cases {
        assert_eq!(res.status, status, "{}", res.text());
        let err = &res.json()["error"];
        assert_eq!(err["code"], code);
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(err.get("type").is_some() && err.get("param").is_some());
        assert!(res.header("x-request-id").is_some());
        assert!(!res.text().contains("wdn_wrong"), "keys are never echoed");
    }
    assert!(mock.captured().is_empty(), "nothing reached the provider");
}

#[test]
fn a_model_name_comes_back_in_its_404_only_when_it_holds_no_key_or_card() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(warden_tests::Driver::IoUring, &config(mock.addr, 1, ""));
    let res = gw.chat(&chat_body("gpt-9000", "x", false));
    assert_eq!(res.status, 404, "{}", res.text());
    assert!(
        res.text().contains("gpt-9000"),
        "a typo is named: {}",
        res.text()
    );
    // A key or a card pasted where the model goes, on every route that names a model.
    let card = "4111111111111111";
    let provider_key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    for name in [KEY, card, provider_key] {
        let native = json!({"model": name, "max_tokens": 8,
            "messages": [{"role": "user", "content": "x"}]});
        let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]});
        let answers = [
            gw.chat(&chat_body(name, "x", false)),
            http::post_json(gw.addr, "/v1/messages", KEY, &native),
            http::post_json(
                gw.addr,
                "/v1/responses",
                KEY,
                &json!({"model": name, "input": "x"}),
            ),
            http::post_json(
                gw.addr,
                &format!("/v1beta/models/{name}:generateContent"),
                KEY,
                &gemini,
            ),
            http::get_with_key(gw.addr, &format!("/v1/models/{name}"), Some(KEY)),
        ];
        for res in answers {
            assert_eq!(res.status, 404, "{name}: {}", res.text());
            assert!(!res.text().contains(name), "{name} echoed: {}", res.text());
            assert!(
                !res.text().contains(&name[..12]),
                "{name} echoed in part: {}",
                res.text()
            );
        }
    }
    assert!(mock.captured().is_empty(), "nothing reached the provider");
}

#[test]
fn client_request_ids_are_kept_and_bad_ones_replaced() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(warden_tests::Driver::IoUring, &config(mock.addr, 1, ""));
    let mut c = http::Conn::open(gw.addr);
    c.send(b"GET /v1/models HTTP/1.1\r\nauthorization: Bearer wdn_test_key_0123456789\r\nx-request-id: trace-42\r\n\r\n");
    assert_eq!(
        c.read_response().expect("response").header("x-request-id"),
        Some("trace-42")
    );
    c.send(b"GET /v1/models HTTP/1.1\r\nauthorization: Bearer wdn_test_key_0123456789\r\nx-request-id: a b\"c\r\n\r\n");
    let rid = c
        .read_response()
        .expect("response")
        .header("x-request-id")
        .map(str::to_owned);
    assert!(rid.is_some_and(|r| r.starts_with("req_")));
}
