//! Delta snapshots end to end: after the first full snapshot, a change reaches the data planes
//! as a signed delta of it; a data plane that joins later takes the full snapshot and then the
//! delta; a data plane restarted without its control plane serves its base and its delta, and
//! nothing at all from a delta file changed on disk (the base alone would bring revoked keys
//! back), nor from a base beside the delta of a newer one (a bundle's write cut short); a
//! restarted control plane resumes from the base it saved and sends deltas of it; a delta of
//! another base,
//! or a delta and a full snapshot relabelled as each other, are refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::Duration;

use serde_json::json;
use warden_tests::{eventually, ControlPlane, Driver, Gateway, Mock};

fn applied(gw: &Gateway, kind: &str) -> u64 {
    gw.metric(&format!(
        "warden_snapshots_applied_total{{kind=\"{kind}\"}}"
    ))
    .unwrap_or_else(|| panic!("no {kind} count in\n{}", gw.metrics()))
}

/// A new Warden key of `project`: (id, key).
fn new_key(cp: &ControlPlane, project: &str) -> (String, String) {
    let r = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{project}/api-keys"),
        Some(&json!({"name": "delta"})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["key"].as_str().unwrap().to_owned(),
    )
}

/// A mock provider, a control plane, a data plane's config for it and the data plane.
fn started() -> (Mock, ControlPlane, String, Gateway) {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let config = cp.dataplane_config(1);
    let gw = Gateway::start(Driver::IoUring, &config);
    (mock, cp, config, gw)
}

fn serves(gw: &Gateway, key: &str, status: u16) -> bool {
    eventually(Duration::from_secs(10), || gw.answers(key) == status).is_some()
}

#[test]
fn changes_travel_as_deltas_and_a_restarted_data_plane_serves_its_base_and_delta() {
    let (mock, cp, config, gw) = started();
    let (project, first) = cp.project_with_keys("sk-delta-provider-1");
    assert!(serves(&gw, &first, 200));
    let full_before = applied(&gw, "full");

    // A new key and a revoked one: deltas of the full snapshot the data plane holds.
    let (_, second) = new_key(&cp, &project);
    let (revoked_id, revoked) = new_key(&cp, &project);
    assert!(serves(&gw, &revoked, 200));
    let r = cp.admin("DELETE", &format!("/admin/v1/api-keys/{revoked_id}"), None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(serves(&gw, &revoked, 401), "a revoked key stops at once");
    assert_eq!(gw.answers(&second), 200);
    assert_eq!(gw.answers(&first), 200);
    assert!(applied(&gw, "delta") >= 3, "{}", gw.metrics());
    assert_eq!(applied(&gw, "full"), full_before, "no full snapshot since");
    let snapshot = cp.admin("GET", "/admin/v1/snapshot", None).json();
    let (full, delta) = (
        snapshot["bytes"].as_u64().unwrap(),
        snapshot["delta_bytes"].as_u64().unwrap(),
    );
    assert!(delta > 0 && delta < full, "{snapshot}");
    let state = gw.dir.0.join("state");
    assert!(state.join("snapshot.delta").exists());

    // A data plane that joins now takes the full snapshot and the delta in one push (it never
    // serves the base alone, where the revoked key still stands), and keeps both.
    let late = Gateway::start(Driver::Epoll, &config);
    assert!(serves(&late, &second, 200));
    assert_eq!(late.answers(&revoked), 401);
    assert_eq!((applied(&late, "full"), applied(&late, "delta")), (1, 1));
    let kept = late.dir.0.join("state");
    assert!(kept.join("snapshot.rkyv").exists() && kept.join("snapshot.delta").exists());
    drop(late);

    // The full snapshot is saved in the store as the base (in the background).
    let saved = eventually(Duration::from_secs(10), || {
        cp.admin("GET", "/admin/v1/snapshot", None).json()["saved_base"] == snapshot["full_version"]
    });
    assert!(saved.is_some(), "the base is saved: {snapshot}");

    // The control plane is away: a restarted data plane serves its base and its delta.
    let cp_dir = cp.stop();
    let dir = gw.kill();
    let gw = Gateway::start_in(dir, Driver::IoUring, &config, &[]);
    assert_eq!(gw.answers(&second), 200);
    assert_eq!(gw.answers(&first), 200);
    assert_eq!(gw.answers(&revoked), 401, "the base alone would let it in");

    // A delta file changed on disk: nothing is served from it nor from the base beneath it.
    let dir = gw.kill();
    let path = dir.0.join("state").join("snapshot.delta");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let gw = Gateway::start_in(dir, Driver::IoUring, &config, &[]);
    assert_eq!(gw.answers(&revoked), 401);
    assert_eq!(gw.answers(&first), 401, "nothing is served");
    assert!(
        gw.proc.stderr().contains("refusing the last good delta"),
        "{}",
        gw.proc.stderr()
    );

    // The control plane comes back. It resumes from the base it saved in its store — the full
    // snapshot the data planes hold — so it builds no new full snapshot: its first version is
    // a delta of that base. The data plane, which serves nothing, takes base and delta in one
    // push, and a change after it is a delta of the same base.
    let dir = gw.kill();
    let cp = ControlPlane::start_in(cp_dir, mock.addr);
    let resumed = cp.admin("GET", "/admin/v1/snapshot", None).json();
    assert!(snapshot["full_version"].as_u64().is_some(), "{snapshot}");
    assert_eq!(
        resumed["full_version"], snapshot["full_version"],
        "before: {snapshot}; after the restart: {resumed}"
    );
    assert!(resumed["version"].as_u64() > snapshot["version"].as_u64());
    let gw = Gateway::start_in(dir, Driver::IoUring, &cp.dataplane_config(1), &[]);
    assert!(serves(&gw, &second, 200));
    assert_eq!(gw.answers(&revoked), 401);
    assert_eq!((applied(&gw, "full"), applied(&gw, "delta")), (1, 1));
    let (_, third) = new_key(&cp, &project);
    assert!(serves(&gw, &third, 200));
    assert_eq!(applied(&gw, "delta"), 2);
    assert_eq!(gw.answers(&revoked), 401);
}

/// A new model alias (a change only a full snapshot carries), taken by `gw`.
fn new_base(cp: &ControlPlane, gw: &Gateway, alias: &str) {
    let fulls = applied(gw, "full");
    let r = cp.admin(
        "PUT",
        &format!("/admin/v1/models/{alias}"),
        Some(&json!({"provider": "openai", "upstream_model": "gpt-4o-mini"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let taken = eventually(Duration::from_secs(10), || applied(gw, "full") > fulls);
    assert!(taken.is_some(), "{}", gw.metrics());
}

#[test]
fn a_bundle_written_down_halfway_is_not_served_from_the_old_base_alone() {
    let (_mock, cp, config, gw) = started();
    let (project, first) = cp.project_with_keys("sk-delta-provider-1");
    assert!(serves(&gw, &first, 200));
    // A key in a base (a new model alias is a change only a full snapshot carries), revoked by
    // a delta of that base.
    let (revoked_id, revoked) = new_key(&cp, &project);
    new_base(&cp, &gw, "halfway-a");
    assert!(serves(&gw, &revoked, 200));
    let r = cp.admin("DELETE", &format!("/admin/v1/api-keys/{revoked_id}"), None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(serves(&gw, &revoked, 401));
    let state = gw.dir.0.join("state");
    let old_base = std::fs::read(state.join("snapshot.rkyv")).unwrap();
    // A newer base, and a delta of it.
    new_base(&cp, &gw, "halfway-b");
    let (_, second) = new_key(&cp, &project);
    assert!(serves(&gw, &second, 200));
    // What a bundle's write leaves when it stops between its two files (the delta goes first):
    // the new base's delta beside the old base, whose own delta it replaced.
    let _cp_dir = cp.stop();
    let dir = gw.kill();
    std::fs::write(dir.0.join("state").join("snapshot.rkyv"), &old_base).unwrap();
    let gw = Gateway::start_in(dir, Driver::IoUring, &config, &[]);
    assert_eq!(
        gw.answers(&revoked),
        401,
        "the old base alone would let the revoked key in"
    );
    assert_eq!(gw.answers(&first), 401, "nothing is served");
    assert!(
        gw.proc.stderr().contains("its base was never written"),
        "{}",
        gw.proc.stderr()
    );
}

#[test]
fn a_delta_of_another_base_and_relabelled_envelopes_are_refused() {
    use warden_shared::signing::Signer32;
    use warden_shared::snapshot::{encode_delta, Delta};
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let (_, key) = cp.project_with_keys("sk-delta-provider-2");
    assert!(serves(&gw, &key, 200));
    let serving = gw.metric("warden_snapshot_version").unwrap();
    let seed = std::fs::read(cp.data_dir().join("snapshot-signing.key")).unwrap();
    let signer = Signer32::from_seed(&seed).expect("a 32-byte seed");
    let credential = std::fs::read_to_string(gw.dir.0.join("state").join("dataplane.credential"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let push = |body: &[u8]| {
        let mut c = warden_tests::http::Conn::open(gw.admin);
        let mut req = format!(
            "PUT /v1/snapshot HTTP/1.1\r\nauthorization: Bearer {credential}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        c.send(&req);
        c.read_response().unwrap()
    };
    // Signed by the control plane's own key, but of a base this data plane does not hold.
    let payload = encode_delta(&Delta {
        base: serving + 7,
        version: serving + 8,
        ..Default::default()
    })
    .unwrap();
    let r = push(&signer.sign_delta(&payload));
    assert_eq!(r.status, 412, "{}", r.text());
    assert!(r.text().contains("send the full snapshot"), "{}", r.text());
    // The delta's signature under the full snapshot's label, and the full snapshot's under the
    // delta's: refused.
    let delta = signer.sign_delta(&payload);
    let relabelled = [&b"WDNSIG02"[..], &delta[8..]].concat();
    assert_eq!(push(&relabelled).status, 403);
    let full = std::fs::read(gw.dir.0.join("state").join("snapshot.rkyv")).unwrap();
    let relabelled = [&b"WDNDLT01"[..], &full[8..]].concat();
    assert_eq!(push(&relabelled).status, 403);
    // A delta's bytes signed as a full snapshot are not a snapshot.
    assert_eq!(push(&signer.sign(&payload)).status, 400);
    // A bundle whose second part is not a delta envelope: nothing of it is taken.
    let head = warden_shared::signing::bundle_head(full.len());
    let bundle = [&head[..], &full, &full].concat();
    assert_eq!(push(&bundle).status, 403);
    for (reason, n) in [("base", 1), ("signature", 3), ("invalid", 1)] {
        assert_eq!(
            gw.metric(&format!(
                "warden_snapshot_rejected_total{{reason=\"{reason}\"}}"
            )),
            Some(n),
            "{reason}"
        );
    }
    assert_eq!(gw.answers(&key), 200, "the held snapshot still serves");
    assert_eq!(gw.metric("warden_snapshot_version"), Some(serving));
}
