//! Provider connections over TLS (rustls, SNI, ALPN, certificate verification, DNS resolved off
//! the shard), and streams the client abandons.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::http::{request, Conn};
use warden_tests::{chat_body, config, Driver, Gateway, Mock, DRIVERS, KEY};

fn fixture(name: &str) -> String {
    format!("{}/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tls_mock() -> Mock {
    Mock::start(&[
        "--tls-cert",
        &fixture("server.pem"),
        "--tls-key",
        &fixture("server.key"),
    ])
}

/// The standard test config with OpenAI at `https://localhost:PORT/v1`.
fn tls_config(mock: &Mock, extra: &str) -> String {
    config(mock.addr, 1, extra).replace(
        &format!("http://{}/v1", mock.addr),
        &format!("https://localhost:{}/v1", mock.addr.port()),
    )
}

#[test]
fn providers_are_reached_over_verified_tls() {
    let mock = tls_mock();
    let trusted = format!("[upstream]\nca_file = \"{}\"\n", fixture("ca.pem"));
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &tls_config(&mock, &trusted));
        let res = gw.chat(&chat_body("gpt-4o", "over tls", false));
        assert_eq!(res.status, 200, "{driver:?}: {}", res.text());
        assert_eq!(
            res.json()["choices"][0]["message"]["content"],
            "echo: over tls"
        );
        let events = gw
            .chat(&chat_body("gpt-4o", "streamed over tls", true))
            .events();
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        let sent = mock.captured().pop().expect("captured");
        assert_eq!(
            sent["headers"]["host"],
            format!("localhost:{}", mock.addr.port())
        );
    }
}

#[test]
fn an_untrusted_provider_certificate_is_refused() {
    let mock = tls_mock();
    let gw = Gateway::start(Driver::IoUring, &tls_config(&mock, ""));
    let res = gw.chat(&chat_body("gpt-4o", "hello?", false));
    assert_eq!(res.status, 502, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "upstream_connect_failed");
    assert!(
        mock.captured().is_empty(),
        "nothing was sent over an unverified connection"
    );
}

#[test]
fn a_client_that_leaves_mid_stream_ends_the_provider_stream() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let body = chat_body(
        "gpt-4o",
        "a b c d e f g h mock:chunks=8 mock:delay_ms=100",
        true,
    )
    .to_string();
    {
        let mut c = Conn::open(gw.addr);
        c.send(&request(
            "POST",
            "/v1/chat/completions",
            Some(KEY),
            body.as_bytes(),
        ));
        let mut first = [0u8; 256];
        let n = std::io::Read::read(&mut c.stream, &mut first).expect("stream starts");
        assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    } // the client goes away here
    let mut seen = String::new();
    for _ in 0..100 {
        seen = gw.metrics();
        if seen.contains("warden_stream_client_disconnects_total 1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        seen.contains("warden_stream_client_disconnects_total 1"),
        "{seen}"
    );
    assert!(
        seen.contains("warden_upstream_pool_idle_connections 0"),
        "the abandoned connection is not pooled:\n{seen}"
    );
    // The gateway keeps serving.
    assert_eq!(gw.chat(&chat_body("gpt-4o", "next", false)).status, 200);
}
