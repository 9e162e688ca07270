//! A request-smuggling corpus: Content-Length / Transfer-Encoding variants, obs-fold, bare CR and
//! LF, chunk-size and chunk-extension tricks, oversized sizes. Every case comes from an
//! authenticated client (so the body is read), and every case must be refused with a 4xx or
//! 5xx and the connection closed — never answered as a request, never forwarded: wherever two
//! parsers could read a message differently, Warden reads none of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::http::Conn;
use warden_tests::{config, Gateway, Mock, DRIVERS, KEY};

/// A chat body that would reach the provider if any case were misread as a request.
const BODY: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"smuggled"}]}"#;

fn cases() -> Vec<(&'static str, String)> {
    let n = BODY.len();
    let chunked = |size_line: &str| {
        format!("Transfer-Encoding: chunked\r\n\r\n{size_line}\r\n{BODY}\r\n0\r\n\r\n")
    };
    let hex = format!("{n:x}");
    vec![
        ("CL then TE", format!("Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n\r\n{BODY}")),
        ("TE then CL", format!("Transfer-Encoding: chunked\r\nContent-Length: {n}\r\n\r\n{BODY}")),
        ("two CLs", format!("Content-Length: {n}\r\nContent-Length: {}\r\n\r\n{BODY}", n + 1)),
        ("CL list", format!("Content-Length: {n}, {n}\r\n\r\n{BODY}")),
        ("CL with sign", format!("Content-Length: +{n}\r\n\r\n{BODY}")),
        ("CL in hex", format!("Content-Length: 0x{hex}\r\n\r\n{BODY}")),
        ("CL with inner space", format!("Content-Length: {n} 1\r\n\r\n{BODY}")),
        ("CL overflowing u64", format!("Content-Length: 99999999999999999999999\r\n\r\n{BODY}")),
        ("TE obs-fold", format!("Transfer-Encoding:\r\n chunked\r\n\r\n{hex}\r\n{BODY}\r\n0\r\n\r\n")),
        ("TE obs-fold with tab", format!("Transfer-Encoding: x\r\n\tchunked\r\n\r\n{hex}\r\n{BODY}\r\n0\r\n\r\n")),
        ("two TEs", format!("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n{hex}\r\n{BODY}\r\n0\r\n\r\n")),
        ("TE chunked twice", format!("Transfer-Encoding: chunked, chunked\r\n\r\n{hex}\r\n{BODY}\r\n0\r\n\r\n")),
        ("TE identity", format!("Transfer-Encoding: identity\r\nContent-Length: {n}\r\n\r\n{BODY}")),
        ("TE with parameter", format!("Transfer-Encoding: chunked;q=1\r\n\r\n{hex}\r\n{BODY}\r\n0\r\n\r\n")),
        ("TE not last", format!("Transfer-Encoding: chunked, gzip\r\n\r\n{hex}\r\n{BODY}\r\n0\r\n\r\n")),
        ("space before colon", format!("Transfer-Encoding : chunked\r\n\r\n{hex}\r\n{BODY}\r\n0\r\n\r\n")),
        ("space in field name", format!("Content Length: {n}\r\n\r\n{BODY}")),
        ("bare LF in the head", format!("Content-Length: {n}\nX-A: b\r\n\r\n{BODY}")),
        ("bare CR in the head", format!("X-A: b\rContent-Length: {n}\r\n\r\n{BODY}")),
        ("NUL in a value", format!("X-A: a\0b\r\nContent-Length: {n}\r\n\r\n{BODY}")),
        ("chunk size ended by bare LF", format!("Transfer-Encoding: chunked\r\n\r\n{hex}\n{BODY}\r\n0\r\n\r\n")),
        ("chunk extension ended by bare LF", chunked(&format!("{hex};a=b\n"))),
        ("chunk extension with a control byte", chunked(&format!("{hex};a=\u{1}"))),
        ("chunk extension unterminated quote", chunked(&format!("{hex};a=\"b"))),
        ("chunk size with 0x", chunked(&format!("0x{hex}"))),
        ("chunk size with sign", chunked(&format!("+{hex}"))),
        ("chunk size negative", chunked("-1")),
        ("chunk size leading space", chunked(&format!(" {hex}"))),
        ("chunk size of 17 digits", chunked("0000000000000000f")),
        ("chunk size overflowing u64", chunked("ffffffffffffffffff")),
        ("chunk data longer than its size", format!("Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{BODY}XX\r\n0\r\n\r\n", n)),
        ("trailer obs-fold", format!("Transfer-Encoding: chunked\r\n\r\n{hex}\r\n{BODY}\r\n0\r\nX-T: a\r\n b\r\n\r\n")),
        ("last chunk with bare LF", format!("Transfer-Encoding: chunked\r\n\r\n{hex}\r\n{BODY}\r\n0\n\r\n")),
    ]
}

#[test]
fn every_smuggling_shaped_request_is_refused_and_nothing_is_forwarded() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(
            driver,
            &config(mock.addr, 1, "[timeouts]\nhead_ms = 500\nbody_ms = 500\n"),
        );
        for (name, rest) in cases() {
            let request = format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {KEY}\r\n{rest}"
            );
            let mut c = Conn::open(gw.addr);
            c.send(request.as_bytes());
            let res = c.read_response();
            let status = res.as_ref().map_or(0, |r| r.status);
            assert!(
                (400..=599).contains(&status),
                "{driver:?} {name}: answered {status} {}",
                res.map(|r| r.text()).unwrap_or_default()
            );
            assert!(
                c.is_closed(Duration::from_secs(5)),
                "{driver:?} {name}: the connection stays open after {status}"
            );
        }
    }
    assert!(
        mock.captured().is_empty(),
        "a case reached the provider: {:?}",
        mock.captured()
    );
}
