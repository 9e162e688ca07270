//! `[shared_limits]`: requests per minute held across three data planes sharing one Redis (each
//! admits from the grants the store gives it), a lost store degrading each data plane to its
//! local share, and the store charged with what was admitted meanwhile once it is back. Each test
//! runs its own `redis-server` on a free port (killed and restarted in the second).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use warden_tests::{chat_body, config, eventually, Driver, Gateway, Mock, TempDir};

/// A `redis-server` of the test's own, without persistence.
struct Redis {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let dir = TempDir::new("redis");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir.0)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (bash scripts/deps.sh installs it)");
        let mut redis = Redis {
            child,
            port,
            _dir: dir,
        };
        let up = eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up.is_some(), "redis-server answers on {port}");
        // Ours, not another process's that had the port first.
        assert!(
            redis.child.try_wait().unwrap().is_none(),
            "redis-server could not listen on {port}"
        );
        redis
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data plane of the shared deployment: `requests_per_minute = 60`, sharing through `port`.
fn plane(mock: &Mock, driver: Driver, port: u16, share: &str) -> Gateway {
    let shared = format!(
        "[shared_limits]\nredis_url = \"redis://127.0.0.1:{port}\"\nlocal_share = {share}\n"
    );
    with_limits(mock, driver, "requests_per_minute = 60\n", &shared)
}

/// A data plane whose project has `limits`, with `shared` after them.
fn with_limits(mock: &Mock, driver: Driver, limits: &str, shared: &str) -> Gateway {
    let text = config(mock.addr, 1, "").replace(
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]",
        &format!(
            "  {{ provider = \"google\", key = \"gm-key-5555\" }},\n]\n[tenants.projects.limits]\n{limits}\n{shared}"
        ),
    );
    Gateway::start(driver, &text)
}

fn in_mode(gw: &Gateway, mode: &str) -> bool {
    gw.metrics()
        .contains(&format!("warden_shared_limits_mode{{mode=\"{mode}\"}} 1"))
}

/// Wait until the minute has at least `left` seconds to go, so a test's requests share one.
fn with_time_left_in_the_minute(left: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if 60 - now % 60 < left {
        std::thread::sleep(Duration::from_secs(61 - now % 60));
    }
}

/// `n` requests spread round-robin over `planes`: how many each admitted.
fn burst(planes: &[Gateway], n: usize, tag: &str) -> Vec<usize> {
    let mut admitted = vec![0; planes.len()];
    for i in 0..n {
        let gw = &planes[i % planes.len()];
        let res = gw.chat(&chat_body("gpt-4o", &format!("{tag} {i}"), false));
        match res.status {
            200 => admitted[i % planes.len()] += 1,
            429 => assert_eq!(res.json()["error"]["code"], "rate_limit_exceeded"),
            s => panic!("{s}: {}", res.text()),
        }
    }
    admitted
}

/// Both scenarios in one test, one after the other: run side by side, one's restarted
/// `redis-server` could find its port taken by the other's processes.
#[test]
fn shared_limits_hold_across_data_planes_and_degrade_when_the_store_is_lost() {
    three_data_planes_share_one_requests_per_minute_limit();
    a_lost_store_degrades_to_the_local_share_and_is_charged_when_back();
    three_data_planes_share_one_monthly_spend_cap();
}

fn three_data_planes_share_one_requests_per_minute_limit() {
    let mock = Mock::start(&[]);
    let redis = Redis::start(Redis::free_port());
    let planes = [
        plane(&mock, Driver::IoUring, redis.port, "1.0"),
        plane(&mock, Driver::Epoll, redis.port, "1.0"),
        plane(&mock, Driver::IoUring, redis.port, "1.0"),
    ];
    for gw in &planes {
        assert!(eventually(Duration::from_secs(10), || in_mode(gw, "leased")).is_some());
    }
    with_time_left_in_the_minute(20);
    let admitted = burst(&planes, 150, "shared");
    let total: usize = admitted.iter().sum();
    // The limit, plus at most one request of credit per data plane (docs/scale-out.md); and
    // grants move to where the traffic is, so the limit is reached.
    assert!(
        (60..=63).contains(&total),
        "admitted {total} ({admitted:?}) under a shared limit of 60"
    );
    assert!(admitted.iter().all(|&a| a > 0), "{admitted:?}");
    assert_eq!(
        mock.captured().len(),
        total,
        "refused requests never go upstream"
    );
    let calls: u64 = planes
        .iter()
        .map(|gw| {
            gw.metric("warden_shared_limits_calls_total{outcome=\"answered\"}")
                .unwrap()
        })
        .sum();
    assert!(calls > 0);
}

fn a_lost_store_degrades_to_the_local_share_and_is_charged_when_back() {
    let mock = Mock::start(&[]);
    let port = Redis::free_port();
    let redis = Redis::start(port);
    let planes = [
        plane(&mock, Driver::IoUring, port, "0.25"),
        plane(&mock, Driver::Epoll, port, "0.25"),
        plane(&mock, Driver::IoUring, port, "0.25"),
    ];
    for gw in &planes {
        assert!(eventually(Duration::from_secs(10), || in_mode(gw, "leased")).is_some());
    }
    with_time_left_in_the_minute(40);
    drop(redis);
    for gw in &planes {
        let degraded = eventually(Duration::from_secs(10), || in_mode(gw, "degraded"));
        assert!(degraded.is_some(), "{}", gw.metrics());
    }
    // Each admits a quarter of 60 on its own.
    let away = burst(&planes, 60, "away");
    assert_eq!(away, [15, 15, 15]);

    // Back: each charges the store with what it admitted meanwhile, and admits from grants
    // again. What was admitted while the store was away is over the limit by construction
    // (docs/scale-out.md: at most N·local_share·L); once every charge is in, the minute's limit
    // holds: what is left of it is all that is admitted.
    let _redis = Redis::start(port);
    for gw in &planes {
        assert!(eventually(Duration::from_secs(10), || in_mode(gw, "leased")).is_some());
    }
    // Requests until a whole round is refused: the limit holds again.
    let mut back = 0;
    let mut rounds = 0;
    loop {
        let got: usize = burst(&planes, 30, &format!("back {rounds}")).iter().sum();
        back += got;
        rounds += 1;
        if got == 0 {
            break;
        }
        assert!(rounds < 6, "still admitting after {back} more");
    }
    // L + N + N·local_share·L for the minute: 60 + 3 + 45.
    assert!(
        back >= 1 && 45 + back <= 60 + 3 + 45,
        "after the store came back, {back} more were admitted (45 already were)"
    );
}

/// Requests to `planes` round-robin until a whole round is refused with `budget_exceeded`: how
/// many were answered.
fn until_the_cap(planes: &[Gateway]) -> usize {
    let mut answered = 0;
    for round in 0..200 {
        let mut refused = 0;
        for gw in planes {
            let res = gw.chat(&chat_body("gpt-4o", "hello there", false));
            match res.status {
                200 => answered += 1,
                429 => {
                    assert_eq!(res.json()["error"]["code"], "budget_exceeded");
                    refused += 1;
                }
                s => panic!("{s}: {}", res.text()),
            }
        }
        if refused == planes.len() {
            return answered;
        }
        assert!(round < 199, "never capped");
    }
    answered
}

/// A monthly spend cap that one data plane reaches after `alone` requests is reached by three
/// sharing it after about as many in all (each counting only its own would take three times
/// as many). Spend is known after the answer, so the bound is the spend admitted between two
/// reports (docs/scale-out.md): `sync_ms = 5` keeps it to a request or two here.
fn three_data_planes_share_one_monthly_spend_cap() {
    let mock = Mock::start(&[]);
    let cap = "monthly_spend_usd = \"0.00004\"\n";
    let alone = until_the_cap(&[with_limits(&mock, Driver::IoUring, cap, "")]);
    assert!(alone >= 5, "the cap allows a few requests: {alone}");
    let redis = Redis::start(Redis::free_port());
    let shared = format!(
        "[shared_limits]\nredis_url = \"redis://127.0.0.1:{}\"\nsync_ms = 5\n",
        redis.port
    );
    let planes = [
        with_limits(&mock, Driver::IoUring, cap, &shared),
        with_limits(&mock, Driver::Epoll, cap, &shared),
        with_limits(&mock, Driver::IoUring, cap, &shared),
    ];
    for gw in &planes {
        assert!(eventually(Duration::from_secs(10), || in_mode(gw, "leased")).is_some());
    }
    let together = until_the_cap(&planes);
    // For the record (docs/scale-out.md).
    eprintln!(
        "spend cap: {alone} answered by one data plane alone, {together} by three sharing it"
    );
    assert!(
        together >= alone && together < alone * 3 / 2,
        "one data plane alone answered {alone} under the cap; three sharing it answered {together}"
    );
}
