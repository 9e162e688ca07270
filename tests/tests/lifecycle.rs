//! Process-level behaviour: one listening socket per shard on the client port, a graceful drain
//! on SIGTERM that lets an in-flight stream finish, and a keep-alive load run without errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::process::Command;
use std::thread;
use std::time::Duration;

use warden_tests::http::{request, Conn};
use warden_tests::{bin, chat_body, config, Driver, Gateway, Mock, KEY};

/// LISTEN sockets on `port` in /proc/net/tcp.
fn listening_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && cols[3] == "0A" && cols[1].ends_with(&format!(":{port:04X}"))
        })
        .count()
}

#[test]
fn one_listening_socket_per_shard() {
    let mock = Mock::start(&[]);
    for shards in [1, 3] {
        let gw = Gateway::start(Driver::IoUring, &config(mock.addr, shards, ""));
        assert_eq!(listening_sockets(gw.addr.port()), shards);
        assert!(gw
            .metrics()
            .contains(&format!("warden_listen_sockets {shards}")));
    }
}

#[test]
fn sigterm_lets_an_in_flight_stream_finish_then_exits_cleanly() {
    let mock = Mock::start(&[]);
    let mut gw = Gateway::start(Driver::IoUring, &config(mock.addr, 2, ""));
    let addr = gw.addr;
    let client = thread::spawn(move || {
        let body =
            chat_body("gpt-4o", "a b c d e mock:chunks=5 mock:delay_ms=200", true).to_string();
        let mut c = Conn::open(addr);
        c.send(&request(
            "POST",
            "/v1/chat/completions",
            Some(KEY),
            body.as_bytes(),
        ));
        c.read_response().expect("stream")
    });
    // Wait until the stream is in flight at the provider, then ask the gateway to stop.
    for _ in 0..200 {
        if !mock.captured().is_empty() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let status = gw
        .proc
        .terminate(Duration::from_secs(15))
        .expect("exits after draining");
    assert!(
        status.success(),
        "clean exit: {status:?}\n{}",
        gw.proc.stderr()
    );
    let res = client.join().expect("client thread");
    assert_eq!(
        res.events().last().map(String::as_str),
        Some("[DONE]"),
        "the stream completed"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
}

#[test]
fn keep_alive_load_runs_without_errors() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 2, ""));
    for stream in [false, true] {
        let mut cmd = Command::new(bin("warden-loadtest"));
        cmd.args([
            "run",
            "--url",
            &format!("http://{}/v1/chat/completions", gw.addr),
            "--key",
            KEY,
        ]);
        cmd.args([
            "--connections",
            "8",
            "--duration-s",
            "1.5",
            "--prompt-bytes",
            "1024",
        ]);
        if stream {
            cmd.arg("--stream");
        }
        let out = cmd.output().expect("loadtest runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_eq!(report["errors"], 0, "{report}");
        assert!(
            report["requests"].as_u64().is_some_and(|n| n > 100),
            "{report}"
        );
    }
    let metrics = gw.metrics();
    assert!(metrics.contains("warden_upstream_pool_reused_total"));
    assert!(
        !metrics.contains("status=\"5"),
        "no 5xx during the load run:\n{metrics}"
    );
}

#[test]
fn sigterm_turns_unready_and_serves_through_the_shutdown_delay() {
    let mock = Mock::start(&[]);
    let text = format!(
        "{}\n[timeouts]\nshutdown_delay_ms = 2500\n",
        config(mock.addr, 1, "")
    );
    let mut gw = Gateway::start(Driver::Epoll, &text);
    assert_eq!(warden_tests::http::get(gw.admin, "/readyz").status, 200);
    let sent = Command::new("kill")
        .args(["-TERM", &gw.proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let unready = warden_tests::eventually(Duration::from_secs(5), || {
        warden_tests::http::get(gw.admin, "/readyz").status == 503
    });
    assert!(unready.is_some(), "/readyz turns 503 at once");
    // Still serving new requests during the delay.
    let res = gw.chat(&chat_body("gpt-4o", "still here", false));
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        gw.proc.child.try_wait().unwrap().is_none(),
        "still running inside the delay"
    );
    let exited = warden_tests::eventually(Duration::from_secs(20), || {
        gw.proc.child.try_wait().unwrap().is_some()
    });
    assert!(exited.is_some(), "exits after the delay and the drain");
    let status = gw.proc.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", gw.proc.stderr());
}

#[test]
fn the_control_plane_answers_health_and_readiness_and_stops_on_sigterm() {
    let mock = Mock::start(&[]);
    let mut cp = warden_tests::ControlPlane::start(mock.addr);
    let health = warden_tests::http::get(cp.addr, "/healthz");
    assert_eq!((health.status, health.text()), (200, "ok\n".to_owned()));
    let ready = warden_tests::http::get(cp.addr, "/readyz");
    assert_eq!(ready.status, 200);
    assert!(
        ready.text().starts_with("ready, snapshot v"),
        "{}",
        ready.text()
    );
    let status = cp
        .proc
        .terminate(Duration::from_secs(15))
        .expect("SIGTERM stops the control plane");
    assert!(status.success(), "{status:?}\n{}", cp.proc.stderr());
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let mock = Mock::start(&[]);
    let text = config(mock.addr, 1, "").replacen(
        "io_uring_entries = 256\n",
        "io_uring_entries = 256\nlog_format = \"json\"\n",
        1,
    );
    let mut gw = Gateway::start_env(Driver::IoUring, &text, &[("WARDEN_LOG", "info")]);
    let status = gw.proc.terminate(Duration::from_secs(15)).expect("exits");
    assert!(status.success());
    let stderr = gw.proc.stderr();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "draining"),
        "{stderr}"
    );
}

#[test]
fn the_access_log_has_a_line_per_request_and_no_secrets() {
    let mock = Mock::start(&[]);
    let text = config(mock.addr, 1, "").replacen(
        "io_uring_entries = 256\n",
        "io_uring_entries = 256\nlog_format = \"json\"\naccess_log = true\n",
        1,
    );
    let mut gw = Gateway::start_env(
        Driver::IoUring,
        &text,
        &[("WARDEN_LOG", "warn,warden::access=info")],
    );
    let res = gw.chat(&chat_body("gpt-4o", "the secret prompt text", false));
    assert_eq!(res.status, 200);
    let mut c = Conn::open(gw.addr);
    c.send(&request("GET", "/v1/models", Some("wdn_wrong_key"), b""));
    assert_eq!(c.read_response().unwrap().status, 401);
    assert!(gw
        .proc
        .terminate(Duration::from_secs(15))
        .unwrap()
        .success());
    let stderr = gw.proc.stderr();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["target"] == "warden::access")
        .map(|l| l["fields"].clone())
        .collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    let ok = &lines[0];
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["method"], "POST");
    assert_eq!(ok["project"], "acme-prod");
    assert_eq!(ok["model"], "gpt-4o");
    assert_eq!(ok["provider"], "openai");
    assert!(ok["duration_us"].as_u64().unwrap() > 0);
    assert_eq!(lines[1]["status"], 401);
    for secret in [
        KEY,
        "wdn_wrong_key",
        "the secret prompt",
        warden_tests::PROVIDER_KEY,
    ] {
        assert!(!stderr.contains(secret), "{secret} in the log");
    }
}
