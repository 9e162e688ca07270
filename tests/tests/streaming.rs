//! Streaming is streaming: events reach the client as the provider produces them, not at the end.
//! The check is about order, not timing: the first event must be in the client's hands while the
//! provider is still producing the rest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::Instant;

use warden_tests::http::{request, Conn};
use warden_tests::{chat_body, config, Gateway, Mock, DRIVERS, KEY};

#[test]
fn events_arrive_one_by_one_while_the_provider_is_still_sending() {
    let mock = Mock::start(&[]);
    for driver in DRIVERS {
        let gw = Gateway::start(driver, &config(mock.addr, 1, ""));
        let body = chat_body(
            "gpt-4o",
            "a b c d e f g h i j mock:chunks=10 mock:delay_ms=100",
            true,
        )
        .to_string();
        let mut c = Conn::open(gw.addr);
        let sent = Instant::now();
        c.send(&request(
            "POST",
            "/v1/chat/completions",
            Some(KEY),
            body.as_bytes(),
        ));
        let res = c.read_response().expect("stream");
        assert_eq!(res.status, 200);
        let events = res.events();
        assert_eq!(
            events.len(),
            1 + 10 + 1 + 1,
            "role, 10 content, finish, [DONE]: {events:?}"
        );
        // Each event was written 100 ms after the previous one; a gateway that buffered would
        // hand them over in one piece at the end.
        assert!(
            c.arrivals.len() >= 10,
            "{driver:?}: events came in {} pieces, not one by one",
            c.arrivals.len()
        );
        let first = c.arrivals[0].0.duration_since(sent);
        let last = c.arrivals[c.arrivals.len() - 1].0.duration_since(sent);
        assert!(first < last, "the first event came before the last");
        println!("{driver:?}: first event after {first:?}, last after {last:?}");
    }
}
