//! Several control planes on one PostgreSQL database (always PostgreSQL here, whichever store
//! the run tests): one leads, any serves the admin API, a follower's changes reach the data
//! planes through the leader, the leader's death hands the lead over without a failed request
//! (and the new leader resumes from the base the old one saved: deltas only, no full snapshot),
//! data planes register with every control plane and ship usage to whichever answers, and a
//! control plane holding other secrets is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde_json::json;
use warden_tests::{eventually, ControlPlane, Driver, Gateway, Mock};

fn leads(cp: &ControlPlane) -> bool {
    let r = cp.admin("GET", "/admin/v1/snapshot", None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["leader"].as_bool().unwrap()
}

/// Requests answered by the whole cluster's usage (`GET /admin/v1/usage` through `cp`).
fn metered(cp: &ControlPlane, project: &str) -> u64 {
    let usage = cp
        .admin("GET", &format!("/admin/v1/usage?project={project}"), None)
        .json();
    usage["rows"].as_array().map_or(0, |rows| {
        rows.iter().map(|r| r["requests"].as_u64().unwrap()).sum()
    })
}

#[test]
fn the_lead_moves_when_the_leader_dies_and_no_request_fails() {
    let mock = Mock::start(&[]);
    let first = ControlPlane::start_on_postgres(mock.addr);
    let second = first.join(mock.addr);
    assert!(leads(&first), "the first to start leads");
    assert!(!leads(&second), "the second follows");

    // Two data planes that know both control planes.
    let config = first.dataplane_config(1).replace(
        &format!("control_plane = \"http://{}\"", first.addr),
        &format!(
            "control_plane = [\"http://{}\", \"http://{}\"]",
            first.addr, second.addr
        ),
    );
    let planes = [
        Gateway::start(
            Driver::IoUring,
            &format!("dataplane_id = \"dp-1\"\n{config}"),
        ),
        Gateway::start(Driver::Epoll, &format!("dataplane_id = \"dp-2\"\n{config}")),
    ];

    // Everything made through the follower: it asks the leader, which publishes and pushes.
    let (_, project, key) = second.tenant_with_project();
    let r = second.admin(
        "POST",
        &format!("/admin/v1/projects/{project}/provider-keys"),
        Some(&json!({"provider": "openai", "key": "sk-cluster-own-1234"})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    for gw in &planes {
        let served = eventually(Duration::from_secs(10), || gw.answers(&key) == 200);
        assert!(
            served.is_some(),
            "a change made through the follower is served"
        );
    }
    // Both control planes list both data planes, each registered with both.
    for cp in [&first, &second] {
        let listed = cp.admin("GET", "/admin/v1/dataplanes", None).json();
        let ids: Vec<&str> = listed["dataplanes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"dp-1") && ids.contains(&"dp-2"), "{listed}");
    }

    // The leader has saved its full snapshot as the cluster's base (in the store): whoever
    // leads next resumes from it and sends deltas of it, which the data planes hold.
    let base = first.admin("GET", "/admin/v1/snapshot", None).json()["full_version"].clone();
    assert!(base.as_u64().is_some_and(|v| v > 0), "{base}");
    let saved = eventually(Duration::from_secs(10), || {
        second.admin("GET", "/admin/v1/snapshot", None).json()["saved_base"] == base
    });
    assert!(saved.is_some(), "the base {base} is saved");
    let fulls: Vec<Option<u64>> = planes
        .iter()
        .map(|gw| gw.metric("warden_snapshots_applied_total{kind=\"full\"}"))
        .collect();

    // Load on both data planes while the leader dies and the follower takes over.
    let stop = AtomicBool::new(false);
    let (sent, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let statuses = std::sync::Mutex::new(Vec::new());
    // The restarted first control plane; its directory holds the database's lifetime.
    let _back = std::thread::scope(|s| {
        for gw in &planes {
            let (stop, sent, failed, statuses, key) = (&stop, &sent, &failed, &statuses, &key);
            s.spawn(move || {
                while !stop.load(Relaxed) {
                    let status = gw.answers(key);
                    sent.fetch_add(1, Relaxed);
                    if status != 200 {
                        failed.fetch_add(1, Relaxed);
                        statuses.lock().unwrap().push(status);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let first_dir = first.stop();
        let killed = std::time::Instant::now();
        let took = eventually(Duration::from_secs(15), || leads(&second));
        assert!(took.is_some(), "the follower takes the lead");

        // A change through the new leader reaches every data plane: a new Warden key.
        let fresh = second.new_api_key(&project);
        for gw in &planes {
            let served = eventually(Duration::from_secs(10), || gw.answers(&fresh) == 200);
            assert!(
                served.is_some(),
                "a change made after the failover is served"
            );
        }
        // The new leader built no full snapshot: it resumed from the saved base.
        let now = second.admin("GET", "/admin/v1/snapshot", None).json();
        assert_eq!(now["full_version"], base, "{now}");
        for (gw, before) in planes.iter().zip(&fulls) {
            assert_eq!(
                gw.metric("warden_snapshots_applied_total{kind=\"full\"}"),
                *before,
                "only deltas after the failover"
            );
        }
        // For the record (docs/scale-out.md), not a pass/fail bound.
        eprintln!(
            "lead taken {:?} after the kill; a change through the new leader served {:?} after it",
            took.unwrap_or_default(),
            killed.elapsed()
        );

        // The old leader comes back as a follower, and its changes are served too.
        let back = ControlPlane::start_in(first_dir, mock.addr);
        assert!(!leads(&back), "a restarted leader follows the new one");
        let third = back.new_api_key(&project);
        for gw in &planes {
            let served = eventually(Duration::from_secs(10), || gw.answers(&third) == 200);
            assert!(
                served.is_some(),
                "a change made through the returning follower"
            );
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Relaxed);
        back
    });
    let (sent, failed) = (sent.into_inner(), failed.into_inner());
    assert!(sent > 20, "the load ran: {sent} requests");
    assert_eq!(
        failed,
        0,
        "no request fails while the lead moves: {:?}",
        statuses.into_inner().unwrap()
    );

    // Usage reaches the survivor, each request once: the load, and per data plane the first
    // answer with each of the three keys (the refusals before a key was served meter nothing).
    let want = sent + 6;
    let shipped = eventually(Duration::from_secs(20), || {
        metered(&second, &project) == want
    });
    assert!(
        shipped.is_some(),
        "usage shipped to the surviving control plane: {} of {want}: {}",
        metered(&second, &project),
        second
            .admin("GET", &format!("/admin/v1/usage?project={project}"), None)
            .text()
    );
}

#[test]
fn a_control_plane_with_other_secrets_is_refused() {
    let mock = Mock::start(&[]);
    let first = ControlPlane::start_on_postgres(mock.addr);
    let stderr = first.fails_to_join(mock.addr);
    assert!(
        stderr.contains("master.key")
            && stderr.contains("admin-token")
            && stderr.contains("copy them from one that runs"),
        "{stderr}"
    );
    // The cluster's own secrets are unchanged: the first still serves and leads.
    assert!(leads(&first));
}

/// `control_plane` is one URL or a list of them; `check` says what is wrong with a list.
#[test]
fn a_data_plane_config_names_one_or_several_control_planes() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start_on_postgres(mock.addr);
    let dir = warden_tests::TempDir::new("cluster-check");
    let one = format!("control_plane = \"http://{}\"", cp.addr);
    let check = |line: &str| {
        let text = cp
            .dataplane_config(1)
            .replace(&one, line)
            .replace("STATE_DIR", &dir.0.join("state").display().to_string());
        let path = dir.0.join("dataplane.toml");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(warden_tests::bin("warden-dataplane"))
            .arg("check")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(check(&one).0, Some(0));
    let two = format!(
        "control_plane = [\"http://{}\", \"https://cp-2.internal:7000\"]",
        cp.addr
    );
    assert_eq!(check(&two).0, Some(0), "{}", check(&two).1);
    let (code, err) = check("control_plane = []");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("control_plane: one URL, or a list of 1 to 16"),
        "{err}"
    );
    let (code, err) = check(&format!(
        "control_plane = [\"http://{}\", \"ftp://cp-2\"]",
        cp.addr
    ));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("\"ftp://cp-2\" is not an http:// or https:// URL"),
        "{err}"
    );
}

fn signal(cp: &ControlPlane, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([name, &cp.proc.child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill {name}");
}

/// A leader that hangs (stopped, or cut off from the database) keeps its session open but
/// silent: the server ends it after `LEADER_SILENCE_S` and a follower leads. When the old
/// leader wakes up it finds it no longer leads, and nothing it held goes back to the data plane.
#[test]
fn a_leader_that_stops_answering_loses_the_lead_and_steps_down_when_it_wakes() {
    let mock = Mock::start(&[]);
    let first = ControlPlane::start_on_postgres(mock.addr);
    let second = first.join(mock.addr);
    let config = first.dataplane_config(1).replace(
        &format!("control_plane = \"http://{}\"", first.addr),
        &format!(
            "control_plane = [\"http://{}\", \"http://{}\"]",
            first.addr, second.addr
        ),
    );
    let gw = Gateway::start(Driver::IoUring, &config);
    let (project, key) = second.project_with_keys("sk-cluster-own-5678");
    assert!(eventually(Duration::from_secs(10), || gw.answers(&key) == 200).is_some());

    signal(&first, "-STOP");
    let stopped = std::time::Instant::now();
    let took = eventually(Duration::from_secs(30), || leads(&second));
    assert!(
        took.is_some(),
        "a follower leads once the silent leader's session is ended"
    );
    eprintln!(
        "lead taken {:?} after the leader stopped",
        stopped.elapsed()
    );
    let fresh = second.new_api_key(&project);
    assert!(eventually(Duration::from_secs(10), || gw.answers(&fresh) == 200).is_some());

    signal(&first, "-CONT");
    let stepped_down = eventually(Duration::from_secs(15), || !leads(&first));
    assert!(stepped_down.is_some(), "the woken leader steps down");
    assert!(leads(&second), "and the new one keeps the lead");
    // The woken one's older snapshot is never served again: the new key keeps working.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(gw.answers(&fresh), 200);
    assert_eq!(gw.answers(&key), 200);
}
