//! A snapshot at scale, taken under load: the control plane's store filled in bulk with
//! `WARDEN_SCALE_KEYS` Warden keys (default 20 000; 1 000 000 for issue #18's figures, with release
//! binaries: see docs/scale-out.md) and a tenth as many projects, each with a provider key. The
//! first change after the fill publishes a full snapshot of all of them; each later one a delta
//! of it, which the data plane takes while requests keep flowing. No request fails, the new key
//! of each change is served, the later changes travel as deltas, and a key from the bulk
//! authenticates. The timings are printed for the record, never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use warden_tests::http::call;
use warden_tests::{eventually, ControlPlane, Driver, Gateway, Mock};

/// Make a change (a new Warden key), wait until the data plane serves it, print the timings.
fn change(cp: &ControlPlane, gw: &Gateway, project: &str, label: &str) {
    let changed = Instant::now();
    let fresh = cp.new_api_key(project);
    let served = eventually(Duration::from_secs(120), || gw.answers(&fresh) == 200);
    assert!(served.is_some(), "{label}: the new key is served");
    eprintln!(
        "{label}: a new key served {:?} after it was made; control plane: {}; data plane: {}",
        changed.elapsed(),
        lines(
            &warden_tests::http::get(cp.addr, "/metrics").text(),
            "warden_cp_snapshot_b"
        ),
        lines(&gw.metrics(), "warden_snapshot"),
    );
}

/// `GET /v1/models` with the bulk's Warden key number `i` (`scripts/fill_store.py`).
fn bulk_models(gw: &Gateway, i: usize) -> warden_tests::http::Response {
    call(
        gw.addr,
        "GET",
        "/v1/models",
        &format!("wdn_bulk_{i:07}"),
        None,
    )
}

/// A process's resident and peak resident memory, as /proc shows them (for the record).
fn memory(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lines of a Prometheus text page whose metric name starts with `prefix`.
fn lines(page: &str, prefix: &str) -> String {
    page.lines()
        .filter(|l| l.starts_with(prefix))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn a_large_snapshot_is_taken_under_load_without_a_failed_request() {
    let keys: usize = std::env::var("WARDEN_SCALE_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let (project, key) = cp.project_with_keys("sk-scale-own-1234");
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(2));
    assert!(
        eventually(Duration::from_secs(10), || gw.answers(&key) == 200).is_some(),
        "the first snapshot is served"
    );

    let small = memory(gw.proc.child.id());
    let fill = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/fill_store.py"
        ))
        .arg("--data-dir")
        .arg(cp.data_dir())
        .args(cp.store_args())
        .args(["--keys", &keys.to_string()])
        .output()
        .unwrap();
    assert!(
        fill.status.success(),
        "{}",
        String::from_utf8_lossy(&fill.stderr)
    );

    // Two changes with nothing else going on: the first build reads the whole bulk (and is
    // full), the second only its change (a delta).
    change(
        &cp,
        &gw,
        &project,
        &format!("{keys} keys, idle, first build"),
    );
    change(
        &cp,
        &gw,
        &project,
        &format!("{keys} keys, idle, next build"),
    );

    let stop = AtomicBool::new(false);
    let (sent, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let statuses = Mutex::new(Vec::new());
    let slowest = AtomicU64::new(0);
    let baseline = std::thread::scope(|s| {
        for _ in 0..2 {
            let (stop, sent, failed, statuses, slowest, key, gw) =
                (&stop, &sent, &failed, &statuses, &slowest, &key, &gw);
            s.spawn(move || {
                while !stop.load(Relaxed) {
                    let started = Instant::now();
                    let status = gw.answers(key);
                    slowest.fetch_max(started.elapsed().as_micros() as u64, Relaxed);
                    sent.fetch_add(1, Relaxed);
                    if status != 200 {
                        failed.fetch_add(1, Relaxed);
                        statuses.lock().unwrap().push(status);
                    }
                }
            });
        }
        // The same load with no change going on first, for comparison.
        std::thread::sleep(Duration::from_secs(2));
        let baseline = (sent.swap(0, Relaxed), slowest.swap(0, Relaxed));
        // Each change publishes every key; the data plane takes each snapshot under the load.
        for round in 0..3 {
            change(
                &cp,
                &gw,
                &project,
                &format!("{keys} keys, under load, round {round}"),
            );
        }
        stop.store(true, Relaxed);
        baseline
    });
    eprintln!(
        "data plane memory with one key: {small}; with {keys}: {}",
        memory(gw.proc.child.id())
    );
    let deltas = gw.metric("warden_snapshots_applied_total{kind=\"delta\"}");
    assert!(
        deltas.is_some_and(|n| n >= 4),
        "the changes after the first travel as deltas: {deltas:?}"
    );
    let (sent, failed) = (sent.load(Relaxed), failed.load(Relaxed));
    eprintln!(
        "{sent} requests during the swaps, slowest {} ms; before them, {} requests in 2 s, slowest {} ms",
        slowest.load(Relaxed) / 1000,
        baseline.0,
        baseline.1 / 1000
    );
    assert!(sent > 0);
    assert_eq!(
        failed,
        0,
        "statuses of failed requests: {:?}",
        statuses.lock().unwrap()
    );

    // Keys from all over the bulk authenticate; one that was never made does not.
    for i in [0, 1, keys / 3, keys / 2, keys - 1] {
        let r = bulk_models(&gw, i);
        assert_eq!(r.status, 200, "bulk key {i}: {}", r.text());
        assert!(r.json()["data"].as_array().is_some_and(|d| !d.is_empty()));
    }
    let r = bulk_models(&gw, keys);
    assert_eq!(r.status, 401, "{}", r.text());

    // The control plane restarts once the full snapshot is saved as the base: it resumes from
    // it rather than reading every row, and its first build is a delta of it; the data plane,
    // restarted on its last good state (that base and a delta), takes deltas alone.
    let base = cp.admin("GET", "/admin/v1/snapshot", None).json()["full_version"].clone();
    let saved = eventually(Duration::from_secs(120), || {
        cp.admin("GET", "/admin/v1/snapshot", None).json()["saved_base"] == base
    });
    assert!(saved.is_some(), "the base {base} is saved");
    eprintln!("{keys} keys: the base was saved within {saved:?} of the last change");
    let logged = |cp: &ControlPlane| {
        cp.proc
            .stderr()
            .lines()
            .filter(|l| l.contains("snapshot") || l.contains("resumed"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .join("\n")
    };
    eprintln!(
        "control plane's log (WARDEN_TEST_LOG=info for timings):\n{}",
        logged(&cp)
    );
    let cp = ControlPlane::start_in(cp.stop(), mock.addr);
    let gw = Gateway::start_in(gw.kill(), Driver::IoUring, &cp.dataplane_config(2), &[]);
    change(
        &cp,
        &gw,
        &project,
        &format!("{keys} keys, control plane restarted"),
    );
    change(
        &cp,
        &gw,
        &project,
        &format!("{keys} keys, after the restart"),
    );
    for i in [0, keys / 2, keys - 1] {
        let r = bulk_models(&gw, i);
        assert_eq!(
            r.status,
            200,
            "bulk key {i} after the restart: {}",
            r.text()
        );
    }
    assert!(
        gw.metric("warden_snapshots_applied_total{kind=\"delta\"}")
            .is_some_and(|n| n >= 2),
        "{}",
        gw.metrics()
    );
    assert_eq!(
        gw.metric("warden_snapshots_applied_total{kind=\"full\"}"),
        Some(0),
        "no full snapshot after the restart: {}",
        gw.metrics()
    );
    assert_eq!(
        cp.admin("GET", "/admin/v1/snapshot", None).json()["full_version"],
        base
    );

    // A change only a full snapshot carries (a new model alias): a full snapshot, built from
    // the resumed mirror without reading the rows again.
    let changed = Instant::now();
    let r = cp.admin(
        "PUT",
        "/admin/v1/models/scale-alias",
        Some(&serde_json::json!({"provider": "openai", "upstream_model": "gpt-4o-mini"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = eventually(Duration::from_secs(120), || {
        bulk_models(&gw, 1).text().contains("scale-alias")
    });
    assert!(listed.is_some(), "the new alias is served");
    eprintln!(
        "{keys} keys, a new model alias (full snapshot from the resumed mirror): served {:?} after \
         it was made; control plane: {}",
        changed.elapsed(),
        lines(
            &warden_tests::http::get(cp.addr, "/metrics").text(),
            "warden_cp_snapshot_b"
        ),
    );
    assert_eq!(
        gw.metric("warden_snapshots_applied_total{kind=\"full\"}"),
        Some(1)
    );
    eprintln!("restarted control plane's log:\n{}", logged(&cp));
}
