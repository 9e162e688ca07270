//! The data plane's admin listener (`admin_listen`) under a crowd and a slow client: at most 64
//! connections at once (more are closed unanswered), a deadline for the whole head however the
//! bytes drip in, and probes answered again once the crowd is gone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use warden_tests::http::get;
use warden_tests::{config, Driver, Gateway, Mock};

/// Whether the server closed `s` (EOF or reset) before `wait` passed.
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    match s.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        ),
    }
}

#[test]
fn the_admin_listener_caps_connections_and_cuts_slow_heads() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let mut idle: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(gw.admin).unwrap())
        .collect();
    let mut extra = TcpStream::connect(gw.admin).unwrap();
    assert!(
        closed_by_server(&mut extra, Duration::from_secs(3)),
        "a connection over the cap is closed at once"
    );
    // The idle ones never send a head: each is closed at the head deadline.
    for s in &mut idle {
        assert!(closed_by_server(s, Duration::from_secs(20)));
    }
    assert_eq!(
        get(gw.admin, "/healthz").status,
        200,
        "slots are free again"
    );

    // A head dripping in one byte at a time is cut off at the deadline too.
    let mut slow = TcpStream::connect(gw.admin).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nx-pad: ").unwrap();
    let mut cut = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(250));
        if slow.write_all(b"a").is_err() {
            cut = true;
            break;
        }
        if closed_by_server(&mut slow, Duration::from_millis(1)) {
            cut = true;
            break;
        }
    }
    assert!(cut, "a slow head is not allowed 15 s");
    assert_eq!(get(gw.admin, "/readyz").status, 200);
}
