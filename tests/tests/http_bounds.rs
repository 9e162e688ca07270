//! The HTTP/1.1 server's bounds and smuggling defences, as a client sees them: status, OpenAI
//! error body, and whether the connection stays open — while well-behaved clients keep being
//! served.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::Duration;

use warden_tests::http::{request, Conn};
use warden_tests::{chat_body, config, Driver, Gateway, Mock, DRIVERS, KEY};

fn small_limits(mock: &Mock) -> String {
    config(
        mock.addr,
        2,
        "[limits]\nmax_head_bytes = 2048\nmax_headers = 16\nmax_body_bytes = 4096\n\n[timeouts]\nhead_ms = 300\nbody_ms = 300\nidle_ms = 60000\n",
    )
}

fn expect_error(c: &mut Conn, status: u16, code: &str) {
    let res = c.read_response().expect("an error response");
    assert_eq!(res.status, status, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], code);
    assert_eq!(res.header("connection"), Some("close"));
    assert!(res.header("x-request-id").is_some());
    assert!(
        c.is_closed(Duration::from_secs(5)),
        "connection must be closed after {status}"
    );
}

#[test]
fn smuggling_shaped_requests_get_400_and_close() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &small_limits(&mock));
    let heads: [&[u8]; 6] = [
        b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
        b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ];
    for head in heads {
        // Authenticated, so that the body is read (an unknown caller's never is).
        let (line, rest) = head.split_at(head.iter().position(|b| *b == b'\n').unwrap() + 1);
        let mut c = Conn::open(gw.addr);
        c.send(
            &[
                line,
                format!("authorization: Bearer {KEY}\r\n").as_bytes(),
                rest,
            ]
            .concat(),
        );
        expect_error(&mut c, 400, "invalid_body_framing");
    }
    let mut c = Conn::open(gw.addr);
    c.send(b"GET /v1/models HTTP/1.1\r\nHost x\r\n\r\n");
    expect_error(&mut c, 400, "malformed_request");
    assert!(
        mock.captured().is_empty(),
        "nothing smuggled through to the provider"
    );
}

#[test]
fn oversized_heads_bodies_and_header_counts_are_refused() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &small_limits(&mock));
        let mut c = Conn::open(gw.addr);
        c.send(
            format!(
                "GET /v1/models HTTP/1.1\r\nx-big: {}\r\n\r\n",
                "a".repeat(3000)
            )
            .as_bytes(),
        );
        expect_error(&mut c, 431, "request_header_fields_too_large");

        let mut c = Conn::open(gw.addr);
        let many: String = (0..20).map(|i| format!("x-h{i}: v\r\n")).collect();
        c.send(format!("GET /v1/models HTTP/1.1\r\n{many}\r\n").as_bytes());
        expect_error(&mut c, 431, "request_header_fields_too_large");

        let mut c = Conn::open(gw.addr);
        c.send(&request(
            "POST",
            "/v1/chat/completions",
            Some(KEY),
            &vec![b'x'; 5000],
        ));
        expect_error(&mut c, 413, "request_too_large");

        let mut c = Conn::open(gw.addr);
        let chunk = "a".repeat(3000);
        c.send(format!("POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n{chunk}\r\nbb8\r\n{chunk}\r\n0\r\n\r\n").as_bytes());
        expect_error(&mut c, 413, "request_too_large");

        let mut c = Conn::open(gw.addr);
        c.send(b"GET / HTTP/2.0\r\n\r\n");
        expect_error(&mut c, 505, "http_version_not_supported");
    }
}

#[test]
fn slow_clients_time_out_while_others_are_served() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &small_limits(&mock));
    let mut slow_head = Conn::open(gw.addr);
    slow_head.send(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n");
    let mut slow_body = Conn::open(gw.addr);
    slow_body.send(
        format!("POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer {KEY}\r\nContent-Length: 100\r\n\r\n{{\"model\"").as_bytes(),
    );
    // A well-behaved client is answered while the slow ones hang.
    let ok = gw.chat(&chat_body("gpt-4o", "still here", false));
    assert_eq!(ok.status, 200);
    expect_error(&mut slow_head, 408, "request_timeout");
    expect_error(&mut slow_body, 408, "request_timeout");

    // A body dripped a byte at a time gets one deadline in all, not one per read: each byte
    // comes well within the read timeout, the whole body would take 5 s, the deadline is 300 ms.
    let body = chat_body("gpt-4o", "drip", false).to_string();
    let mut drip = Conn::open(gw.addr);
    drip.send(
        format!("POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
    );
    let mut writer = drip.stream.try_clone().unwrap();
    let dripper = std::thread::spawn(move || {
        let pause = Duration::from_millis(5000 / body.len() as u64);
        for b in body.bytes() {
            std::thread::sleep(pause);
            if std::io::Write::write_all(&mut writer, &[b]).is_err() {
                return;
            }
        }
    });
    expect_error(&mut drip, 408, "request_timeout");
    let _ = drip.stream.shutdown(std::net::Shutdown::Both);
    dripper.join().unwrap();
}

#[test]
fn an_early_answer_reaches_a_client_still_sending_and_then_the_end_of_the_stream() {
    // Answered before the body is read (too large; credentials refused), while the client goes
    // on sending 8 MiB: the client must finish sending, read the answer and then the end of
    // the stream. Closing on unread bytes resets the connection instead: the client's send
    // fails and its read after the answer sees a reset.
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &small_limits(&mock));
    let big = 8 << 20;
    for (key, status, code) in [
        (KEY, 413, "request_too_large"),
        ("wdn_unknown", 401, "invalid_api_key"),
    ] {
        let mut c = Conn::open(gw.addr);
        c.send(format!("POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer {key}\r\ncontent-length: {big}\r\n\r\n").as_bytes());
        let mut writer = c.stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            std::io::Write::write_all(&mut writer, &vec![b'x'; big]).map_err(|e| e.kind())
        });
        let res = c.read_response().expect("an answer");
        assert_eq!(res.status, status, "{}", res.text());
        assert_eq!(res.json()["error"]["code"], code);
        assert!(
            c.is_closed(Duration::from_secs(5)),
            "{status}: the answer is followed by the end of the stream"
        );
        assert_eq!(
            sender.join().unwrap(),
            Ok(()),
            "{status}: the client's send completes"
        );
    }
}

#[test]
fn keep_alive_and_pipelined_requests_are_answered_in_order() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &config(mock.addr, 2, ""));
        let mut c = Conn::open(gw.addr);
        let mut batch = Vec::new();
        for i in 0..5 {
            let body = chat_body("gpt-4o", &format!("message {i}"), false).to_string();
            batch.extend(request(
                "POST",
                "/v1/chat/completions",
                Some(KEY),
                body.as_bytes(),
            ));
        }
        batch.extend(request("GET", "/v1/models", Some(KEY), b""));
        c.send(&batch);
        for i in 0..5 {
            let res = c.read_response().expect("pipelined response");
            assert_eq!(res.status, 200);
            assert_eq!(
                res.json()["choices"][0]["message"]["content"],
                format!("echo: message {i}"),
                "{driver:?}"
            );
        }
        assert_eq!(c.read_response().expect("models").json()["object"], "list");
        // Still open for more.
        c.send(&request("GET", "/v1/models", Some(KEY), b""));
        assert_eq!(c.read_response().expect("after pipeline").status, 200);
    }
}

#[test]
fn chunked_bodies_and_expect_continue_are_accepted() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let body = chat_body("gpt-4o", "chunked hello", false).to_string();
    let (a, b) = body.split_at(body.len() / 2);
    let mut c = Conn::open(gw.addr);
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer wdn_test_key_0123456789\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.read_response().expect("100 Continue");
    assert_eq!(interim.status, 100);
    c.send(
        format!(
            "{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\ntrailer: x\r\n\r\n",
            a.len(),
            b.len()
        )
        .as_bytes(),
    );
    let res = c.read_response().expect("response");
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json()["choices"][0]["message"]["content"],
        "echo: chunked hello"
    );
    // The connection is reusable after a chunked body.
    c.send(&request("GET", "/v1/models", Some(KEY), b""));
    assert_eq!(c.read_response().expect("next").status, 200);
}

#[test]
fn connections_over_the_shard_limit_get_503() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(
        Driver::IoUring,
        &config(mock.addr, 1, "[limits]\nmax_connections_per_shard = 2\n"),
    );
    let mut held: Vec<Conn> = (0..2).map(|_| Conn::open(gw.addr)).collect();
    for c in &mut held {
        c.send(&request("GET", "/v1/models", Some(KEY), b""));
        assert_eq!(c.read_response().expect("within limit").status, 200);
    }
    let mut over = Conn::open(gw.addr);
    let res = over.read_response().expect("a refusal");
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["error"]["code"], "overloaded");
    drop(held);
    // Capacity comes back once connections close.
    let mut retry = None;
    for _ in 0..100 {
        let mut c = Conn::open(gw.addr);
        c.send(&request("GET", "/v1/models", Some(KEY), b""));
        let res = c.read_response().expect("response");
        if res.status == 200 {
            retry = Some(res);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(retry.is_some(), "a slot frees up after clients disconnect");
}

#[test]
fn credentials_are_checked_before_the_body_and_must_be_unambiguous() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    // An unknown key is answered at once: the 4 MiB body it announces is never waited for.
    let mut c = Conn::open(gw.addr);
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer wdn_unknown\r\ncontent-length: 4000000\r\n\r\n{");
    expect_error(&mut c, 401, "invalid_api_key");
    // No 100 Continue for a caller without a key.
    let mut c = Conn::open(gw.addr);
    c.send(b"POST /v1/messages HTTP/1.1\r\ncontent-length: 10\r\nexpect: 100-continue\r\n\r\n");
    let res = c.read_response().expect("an answer");
    assert_eq!(res.status, 401, "{}", res.text());
    assert_eq!(res.json()["type"], "error", "in the route's dialect");
    // A credential twice, or two that disagree, is refused.
    let body = chat_body("gpt-4o", "x", false).to_string();
    let mut c = Conn::open(gw.addr);
    c.send(format!("POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer wdn_unknown\r\nauthorization: Bearer {KEY}\r\ncontent-length: {}\r\n\r\n{body}", body.len()).as_bytes());
    expect_error(&mut c, 400, "malformed_request");
    let messages = serde_json::json!({"model": "claude-4-sonnet", "max_tokens": 8,
        "messages": [{"role": "user", "content": "x"}]})
    .to_string();
    let mut c = Conn::open(gw.addr);
    c.send(format!("POST /v1/messages HTTP/1.1\r\nx-api-key: {KEY}\r\nauthorization: Bearer wdn_other\r\ncontent-length: {}\r\n\r\n{messages}", messages.len()).as_bytes());
    let res = c.read_response().expect("an answer");
    assert_eq!(res.status, 401, "{}", res.text());
    assert!(
        res.text().contains("conflicting credentials"),
        "{}",
        res.text()
    );
    // Bare LF or CR in a head.
    for head in [
        format!("GET /v1/models HTTP/1.1\nauthorization: Bearer {KEY}\r\n\r\n"),
        format!("GET /v1/models HTTP/1.1\r\nauthorization: Bearer {KEY}\n\r\n"),
        format!("GET /v1/models HTTP/1.1\r\nx-a: b\rc\r\nauthorization: Bearer {KEY}\r\n\r\n"),
    ] {
        let mut c = Conn::open(gw.addr);
        c.send(head.as_bytes());
        let res = c.read_response().expect("an answer");
        assert_eq!(res.status, 400, "{head:?}: {}", res.text());
    }
    assert!(mock.captured().is_empty(), "nothing reached the provider");
    // The refused callers are on record, with their status.
    let records = warden_tests::audit_export(&gw.audit_dir());
    assert!(
        records.iter().filter(|r| r["status"] == 401).count() >= 3,
        "{records:?}"
    );
    // And a well-formed request is served as before.
    assert_eq!(gw.chat(&chat_body("gpt-4o", "fine", false)).status, 200);
}

#[test]
fn compressed_bodies_are_refused_unread_in_the_callers_dialect() {
    // A body in a content coding would reach the provider with no guardrail having read it
    // (they read bytes): each dialect refuses it with 415 in its own error shape, before any
    // upstream call, and the connection goes on serving.
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &config(mock.addr, 1, ""));
        let body = chat_body("gpt-4o", "card 4111 1111 1111 1111", false).to_string();
        let send = |c: &mut Conn, path: &str, auth: &str, extra: &str, body: &[u8]| {
            let mut raw = format!(
                "POST {path} HTTP/1.1\r\nhost: test\r\n{auth}\r\n{extra}content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            raw.extend_from_slice(body);
            c.send(&raw);
            c.read_response().expect("an answer")
        };
        let bearer = format!("authorization: Bearer {KEY}");
        let anthropic = format!("x-api-key: {KEY}\r\nanthropic-version: 2023-06-01");
        let gemini = format!("x-goog-api-key: {KEY}");
        let mut c = Conn::open(gw.addr);
        let res = send(
            &mut c,
            "/v1/chat/completions",
            &bearer,
            "content-encoding: gzip\r\n",
            body.as_bytes(),
        );
        assert_eq!(res.status, 415, "{driver:?}: {}", res.text());
        let err = &res.json()["error"];
        assert_eq!(err["code"], "unsupported_content_encoding");
        assert_eq!(err["type"], "invalid_request_error");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("send it uncompressed"),
            "{err}"
        );
        let res = send(
            &mut c,
            "/v1/messages",
            &anthropic,
            "Content-Encoding: br\r\n",
            body.as_bytes(),
        );
        assert_eq!(res.status, 415, "{}", res.text());
        assert_eq!(res.json()["type"], "error");
        assert_eq!(res.json()["error"]["type"], "invalid_request_error");
        let res = send(
            &mut c,
            "/v1beta/models/gemini-2.0-flash:generateContent",
            &gemini,
            "content-encoding: identity, zstd\r\n",
            body.as_bytes(),
        );
        assert_eq!(res.status, 415, "{}", res.text());
        assert_eq!(res.json()["error"]["code"], 415);
        assert_eq!(res.json()["error"]["status"], "INVALID_ARGUMENT");
        // `identity` is no coding: served, on the same connection.
        let plain = chat_body("gpt-4o", "plain", false).to_string();
        let res = send(
            &mut c,
            "/v1/chat/completions",
            &bearer,
            "content-encoding: identity\r\n",
            plain.as_bytes(),
        );
        assert_eq!(res.status, 200, "{}", res.text());
        // A UTF-8 byte-order mark in front of the JSON is named, not a syntax error at 0.
        let bom = [b"\xEF\xBB\xBF".as_slice(), plain.as_bytes()].concat();
        let res = send(&mut c, "/v1/chat/completions", &bearer, "", &bom);
        assert_eq!(res.status, 400, "{}", res.text());
        let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains("byte-order mark"), "{message}");
    }
    // Only the uncompressed request of each round reached the provider.
    let captured = mock.captured();
    assert_eq!(captured.len(), DRIVERS.len(), "{captured:?}");
    assert!(captured
        .iter()
        .all(|r| r["body"]["messages"][0]["content"] == "plain"));
    // And Warden asked the provider not to compress its answer either.
    assert!(captured
        .iter()
        .all(|r| r["headers"]["accept-encoding"] == "identity"));
}
