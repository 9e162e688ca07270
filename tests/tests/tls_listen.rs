//! Client TLS on `listen` (`[tls] cert_file, key_file`): requests over verified TLS with a client
//! we did not write (curl), the certificate switched by SIGHUP, a failed reload that keeps the
//! old certificate, plain HTTP on the TLS port refused and counted, and a start refused when the
//! certificate and key do not belong together. The official SDKs over https are in
//! tests/python/test_tls_sdks.py.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use warden_tests::{config, eventually, Driver, Gateway, Mock, DRIVERS, KEY};

fn fixture(name: &str) -> String {
    format!("{}/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A config serving `cert`/`key` on `listen` (paths in the gateway's own directory, so a test
/// can replace the files and send SIGHUP).
fn tls_section(cert: &str, key: &str) -> String {
    format!("[tls]\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\n")
}

/// curl over https to the gateway, trusting only `ca`: (exit code, body).
fn curl(gw: &Gateway, ca: &str, prompt: &str) -> (i32, String) {
    let body = serde_json::json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": prompt}],
    })
    .to_string();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert", ca])
        .args(["-H", &format!("Authorization: Bearer {KEY}")])
        .args(["-H", "content-type: application/json", "--data", &body])
        .arg(format!(
            "https://localhost:{}/v1/chat/completions",
            gw.addr.port()
        ))
        .output()
        .expect("curl is installed (scripts/deps.sh)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn sighup(gw: &Gateway) {
    let sent = Command::new("kill")
        .args(["-HUP", &gw.proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn clients_are_served_over_tls_and_sighup_switches_the_certificate() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let dir = warden_tests::TempDir::new("gateway");
        let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
        std::fs::copy(fixture("server.pem"), &cert).unwrap();
        std::fs::copy(fixture("server.key"), &key).unwrap();
        let section = tls_section(&cert.display().to_string(), &key.display().to_string());
        let gw = Gateway::start_in(dir, driver, &config(mock.addr, 2, &section), &[]);

        let (code, body) = curl(&gw, &fixture("ca.pem"), "over tls");
        assert_eq!(code, 0, "{driver:?}: curl failed: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "echo: over tls");
        let (code, _) = curl(&gw, &fixture("ca2.pem"), "wrong ca");
        assert_eq!(code, 60, "{driver:?}: a client trusting another CA refuses");

        // New certificate and key, then SIGHUP: new connections get the new certificate.
        std::fs::copy(fixture("server2.pem"), &cert).unwrap();
        std::fs::copy(fixture("server2.key"), &key).unwrap();
        sighup(&gw);
        let reloaded = eventually(Duration::from_secs(10), || {
            gw.metric("warden_tls_reloads_total{outcome=\"ok\"}") == Some(1)
        });
        assert!(reloaded.is_some(), "{driver:?}: {}", gw.metrics());
        let (code, body) = curl(&gw, &fixture("ca2.pem"), "after reload");
        assert_eq!(code, 0, "{driver:?}: {body}");
        assert!(body.contains("echo: after reload"), "{body}");
        let (code, _) = curl(&gw, &fixture("ca.pem"), "old ca");
        assert_eq!(code, 60, "{driver:?}: the old certificate is gone");

        // A broken key file: the reload fails, is counted, and the certificate in use stays.
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nnot a key\n").unwrap();
        sighup(&gw);
        let failed = eventually(Duration::from_secs(10), || {
            gw.metric("warden_tls_reloads_total{outcome=\"failed\"}") == Some(1)
        });
        assert!(failed.is_some(), "{driver:?}: {}", gw.metrics());
        let (code, body) = curl(&gw, &fixture("ca2.pem"), "still serving");
        assert_eq!(code, 0, "{driver:?}: {body}");
        assert!(
            gw.proc
                .stderr()
                .contains("keeping the previous TLS certificate"),
            "{}",
            gw.proc.stderr()
        );
    }
}

#[test]
fn plain_http_on_the_tls_port_gets_no_answer_and_is_counted() {
    let mock = Mock::start(&[]);
    let section = tls_section(&fixture("server.pem"), &fixture("server.key"));
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, &section));
    let mut conn = TcpStream::connect(gw.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(
        format!("GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut got = Vec::new();
    let _ = conn.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "no HTTP answer on a TLS port: {:?}",
        String::from_utf8_lossy(&got)
    );
    let counted = eventually(Duration::from_secs(10), || {
        gw.metric("warden_tls_handshake_failures_total") == Some(1)
    });
    assert!(counted.is_some(), "{}", gw.metrics());
}

#[test]
fn a_certificate_and_a_key_that_do_not_belong_together_stop_the_start() {
    let mock = Mock::start(&[]);
    let section = tls_section(&fixture("server.pem"), &fixture("server2.key"));
    let err = Gateway::fails_to_start(Driver::IoUring, &config(mock.addr, 1, &section));
    assert!(err.contains("do not make a usable certificate"), "{err}");
    let key = std::fs::read_to_string(fixture("server2.key")).unwrap();
    let body = key.lines().nth(1).unwrap();
    assert!(!err.contains(body), "the error quotes no key material");

    let missing = tls_section(&fixture("server.pem"), "/nonexistent/key.pem");
    let err = Gateway::fails_to_start(Driver::IoUring, &config(mock.addr, 1, &missing));
    assert!(err.contains("tls.key_file /nonexistent/key.pem"), "{err}");
}
