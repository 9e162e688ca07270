//! What a client sees when the provider fails: refused connections, slow first bytes, streams
//! that break off, and provider error statuses — always an OpenAI-shaped answer, never a hang.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::json;
use warden_tests::http::find;
use warden_tests::{chat_body, config, Driver, Gateway, Mock, DRIVERS, PROVIDER_KEY};

#[test]
fn refused_connection_is_a_502() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    // The listener is dropped: nothing listens on that port now.
    let gw = Gateway::start(Driver::IoUring, &config(port, 1, ""));
    let res = gw.chat(&chat_body("gpt-4o", "anyone?", false));
    assert_eq!(res.status, 502, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "upstream_connect_failed");
    assert_eq!(res.json()["error"]["type"], "upstream_error");
}

#[test]
fn slow_first_byte_is_a_504() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(
        Driver::IoUring,
        &config(mock.addr, 1, "[timeouts]\nupstream_first_byte_ms = 200\n"),
    );
    let res = gw.chat(&chat_body(
        "gpt-4o",
        "take your time mock:delay_ms=3000",
        false,
    ));
    assert_eq!(res.status, 504, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "upstream_timeout");
    // The gateway keeps serving.
    assert_eq!(gw.chat(&chat_body("gpt-4o", "quick", false)).status, 200);
}

#[test]
fn a_stream_the_provider_drops_ends_with_an_error_event() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &config(mock.addr, 1, ""));
        let res = gw.chat(&chat_body(
            "gpt-4o",
            "a b c d e f mock:chunks=6 mock:drop_after=3",
            true,
        ));
        assert_eq!(res.status, 200);
        let events = res.events();
        assert_eq!(
            events.len(),
            4,
            "3 forwarded events and the error event: {events:?}"
        );
        let last: serde_json::Value = serde_json::from_str(&events[3]).expect("error event JSON");
        assert_eq!(last["error"]["code"], "upstream_closed", "{driver:?}");
        assert!(!events.contains(&"[DONE]".to_owned()));
        // The broken connection is not reused: the next request succeeds.
        assert_eq!(
            gw.chat(&chat_body("gpt-4o", "again", true))
                .events()
                .last()
                .map(String::as_str),
            Some("[DONE]")
        );
    }
}

#[test]
fn a_provider_that_closes_without_answering_is_a_502() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let res = gw.chat(&chat_body("gpt-4o", "mock:drop_after=0", false));
    assert_eq!(res.status, 502, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "upstream_closed");
}

#[test]
fn provider_errors_keep_their_status_and_never_show_the_key() {
    let mock = Mock::start(&["--key-status", &format!("{PROVIDER_KEY}=401")]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let res = gw.chat(&chat_body("gpt-4o", "hi", false));
    assert_eq!(res.status, 401);
    let err = &res.json()["error"];
    assert_eq!(err["code"], "invalid_api_key");
    let message = err["message"].as_str().expect("message");
    assert!(
        message.contains("openai rejected the project's provider key"),
        "{message}"
    );
    assert!(
        !res.text().contains("provider-abcd") && !res.text().contains(PROVIDER_KEY),
        "{}",
        res.text()
    );

    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    for (status, code) in [
        (429, "rate_limit_exceeded"),
        (500, "server_error"),
        (503, "server_overloaded"),
    ] {
        let res = gw.chat(&chat_body("gpt-4o", &format!("mock:status={status}"), true));
        assert_eq!(
            res.status, status,
            "a streamed request's provider error is a plain error response"
        );
        assert_eq!(res.json()["error"]["code"], code);
    }
    assert_eq!(
        gw.chat(&json!({"model":"gpt-4o","messages":[{"role":"user","content":"ok"}]}))
            .status,
        200
    );
}

#[test]
fn a_pooled_connection_the_provider_closed_is_retried_once_on_a_fresh_one() {
    // The mock closes every connection after one response, without saying so: each pooled
    // connection is stale by the time the next request takes it.
    let mock = Mock::start(&["--max-requests-per-conn", "1"]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &config(mock.addr, 1, ""));
        for i in 0..5 {
            let res = gw.chat(&chat_body("gpt-4o", &format!("n{i}"), i % 2 == 1));
            assert_eq!(res.status, 200, "{driver:?} request {i}: {}", res.text());
        }
        let metrics = gw.metrics();
        let retries = metrics
            .lines()
            .find_map(|l| l.strip_prefix("warden_upstream_pool_stale_retries_total "))
            .and_then(|v| v.parse::<u64>().ok());
        assert!(
            retries.is_some_and(|n| n >= 1),
            "{driver:?}: stale connections were detected and retried:\n{metrics}"
        );
    }
}

#[test]
fn an_answer_in_a_content_coding_is_refused_not_passed_on_unread() {
    // Warden asks for `identity`; a provider (or a proxy in front of one) that compresses
    // anyway would have its answer pass the response guardrails unread: the client gets a 502.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let provider = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while find(&head, b"\r\n\r\n").is_none() {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "the request head arrives");
            head.extend_from_slice(&buf[..n]);
        }
        let body = br#"{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"mail jane.doe@example.com"},"finish_reason":"stop"}]}"#;
        write!(
            s,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        String::from_utf8_lossy(&head).to_ascii_lowercase()
    });
    let gw = Gateway::start(Driver::IoUring, &config(addr, 1, ""));
    let res = gw.chat(&chat_body("gpt-4o", "hi", false));
    assert_eq!(res.status, 502, "{}", res.text());
    let err = &res.json()["error"];
    assert_eq!(err["code"], "upstream_protocol_error");
    assert!(
        err["message"].as_str().unwrap().contains("content-coded"),
        "{err}"
    );
    assert!(!res.text().contains("jane.doe"));
    let head = provider.join().unwrap();
    assert!(head.contains("accept-encoding: identity\r\n"), "{head}");
}
