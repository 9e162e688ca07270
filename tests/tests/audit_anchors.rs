//! The audit chain, keyed and anchored: a data plane chains its records under its own audit key
//! (`state_dir/audit.key`, 0600), ships the chain hash at both ends of every usage batch, and
//! the control plane keeps those anchors and raises an alert (API field and metric) when a later
//! batch disagrees. `audit verify --anchors` proves a cut or a rewrite offline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{json, Value};
use warden_tests::http::call;
use warden_tests::{audit_cli, chat_body, eventually, ControlPlane, Driver, Gateway, Mock};

fn alert(cp: &ControlPlane, id: &str) -> Value {
    let planes = cp.admin("GET", "/admin/v1/dataplanes", None).json();
    planes["dataplanes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .map_or(Value::Null, |p| p["audit_alert"].clone())
}

fn alerts_metric(cp: &ControlPlane, reason: &str) -> String {
    let text = warden_tests::http::get(cp.addr, "/metrics").text();
    let line = format!("warden_cp_audit_chain_alerts_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or("missing")
        .to_owned()
}

#[test]
fn a_log_cut_short_after_it_was_anchored_raises_an_alert_and_fails_verify() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let (_, key) = cp.project_with_keys("sk-tenant-own-5678");
    let config = format!("dataplane_id = \"dp-anchored\"\n{}", cp.dataplane_config(1));
    let gw = Gateway::start(Driver::IoUring, &config);
    let ask = |gw: &Gateway| {
        warden_tests::http::post_json(
            gw.addr,
            "/v1/chat/completions",
            &key,
            &chat_body("gpt-4o", "anchor me", false),
        )
        .status
    };
    assert!(eventually(Duration::from_secs(10), || ask(&gw) == 200).is_some());
    for _ in 0..4 {
        assert_eq!(ask(&gw), 200);
    }
    let anchors = || {
        cp.admin("GET", "/admin/v1/dataplanes/dp-anchored/anchors", None)
            .json()
    };
    let shipped = eventually(Duration::from_secs(15), || {
        anchors().as_array().is_some_and(|a| a.len() >= 2)
            && cp.admin("GET", "/admin/v1/requests", None).json()["requests"]
                .as_array()
                .is_some_and(|r| r.len() >= 5)
    });
    assert!(shipped.is_some(), "{}", gw.proc.stderr());
    assert_eq!(alert(&cp, "dp-anchored"), Value::Null);

    // The key file, and an intact log that agrees with every anchor.
    let state = gw.dir.0.join("state");
    let key_file = state.join("audit.key");
    let meta = std::fs::metadata(&key_file).unwrap();
    assert_eq!((meta.len(), meta.permissions().mode() & 0o777), (32, 0o600));
    let audit = gw.audit_dir();
    let anchors_file = gw.dir.0.join("anchors.json");
    std::fs::write(&anchors_file, anchors().to_string()).unwrap();
    let dir = audit.display().to_string();
    let anchors_arg = anchors_file.display().to_string();
    let (code, out, err) = audit_cli(&["verify", &dir, "--anchors", &anchors_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("chain keyed under audit key"), "{out}");
    let n = anchors().as_array().unwrap().len();
    assert!(out.contains(&format!("anchors: {n} of {n} hold")), "{out}");
    let other = gw.dir.0.join("other.key");
    std::fs::write(&other, [5u8; 32]).unwrap();
    let (code, out, _) = audit_cli(&["verify", &dir, "--key-file", &other.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("another audit key"), "{out}");

    // Stop it and cut the newest anchored record off the end of its segment.
    let last = anchors().as_array().unwrap().last().cloned().unwrap();
    let dir_kept = gw.kill();
    let segment = std::fs::read_dir(&audit)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name().unwrap().to_string_lossy()
                == format!("segment-{:020}.wal", last["segment"].as_u64().unwrap())
        })
        .expect("the anchored segment is still plain");
    let cut = last["offset"].as_u64().unwrap() - 20;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let (code, out, _) = audit_cli(&["verify", &dir, "--anchors", &anchors_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("truncated") || out.contains("rewritten"),
        "{out}"
    );

    // Restarted, the data plane ships from where it was: its log no longer holds that point.
    let gw = Gateway::start_in(dir_kept, Driver::IoUring, &config, &[]);
    let raised = eventually(Duration::from_secs(15), || {
        alert(&cp, "dp-anchored")["reason"] == "truncated"
    });
    assert!(
        raised.is_some(),
        "{}\n{}",
        cp.admin("GET", "/admin/v1/dataplanes", None).text(),
        gw.proc.stderr()
    );
    assert_eq!(alerts_metric(&cp, "truncated"), "1");
    assert!(cp.proc.stderr().contains("audit chain alert"));
}

/// Enrol data plane `id` with the enrolment token; its credential.
fn enrol(cp: &ControlPlane, id: &str) -> String {
    let token = std::fs::read_to_string(cp.data_dir().join("dataplane-token")).unwrap();
    let register = json!({"id": id, "push_url": "http://127.0.0.1:9", "version": 0});
    let r = call(
        cp.addr,
        "POST",
        "/dataplane/v1/register",
        token.trim(),
        Some(&register),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["credential"].as_str().unwrap().to_owned()
}

#[test]
fn batches_that_disagree_with_the_anchors_raise_each_alert_once() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let token = enrol(&cp, "dp-x");
    let token = token.as_str();
    let h = |c: char| c.to_string().repeat(64);
    let post = |from: (u64, u64),
                to: (u64, u64),
                from_hash: Option<String>,
                to_hash: String,
                at_end: bool| {
        let body = json!({"dataplane": "dp-x", "rows": [], "requests": [],
            "from": {"segment": from.0, "offset": from.1}, "to": {"segment": to.0, "offset": to.1},
            "anchor": {"from_hash": from_hash, "to_hash": to_hash, "at_end": at_end}});
        call(cp.addr, "POST", "/dataplane/v1/usage", token, Some(&body)).status
    };
    assert_eq!(post((0, 64), (0, 400), Some(h('a')), h('b'), true), 200);
    assert_eq!(post((0, 400), (0, 900), Some(h('b')), h('c'), true), 200);
    assert_eq!(alerts_metric(&cp, "rewritten"), "0");
    // The point shipped as `c` now reads `d`.
    assert_eq!(post((0, 900), (0, 950), Some(h('d')), h('e'), true), 200);
    assert_eq!(alerts_metric(&cp, "rewritten"), "1");
    assert_eq!(post((0, 900), (0, 950), Some(h('d')), h('e'), true), 200);
    assert_eq!(
        alerts_metric(&cp, "rewritten"),
        "1",
        "the same alert is kept once"
    );
    // A batch starting past the last anchor: records were never shipped.
    assert_eq!(post((1, 64), (1, 300), Some(h('f')), h('0'), false), 200);
    assert_eq!(alerts_metric(&cp, "gap"), "1");
    // Re-shipped from the start, the log now ends before the last anchor.
    assert_eq!(post((0, 64), (0, 400), Some(h('a')), h('b'), true), 200);
    assert_eq!(alerts_metric(&cp, "truncated"), "1");
    assert_eq!(alert(&cp, "dp-x")["reason"], "truncated");
    // Malformed hashes are refused; the data-plane token is required.
    assert_eq!(post((0, 64), (0, 70), Some("zz".into()), h('b'), true), 400);
    let body = json!({"dataplane": "dp-x", "rows": [], "from": {"segment": 0, "offset": 0},
        "to": {"segment": 0, "offset": 0}});
    assert_eq!(
        call(
            cp.addr,
            "POST",
            "/dataplane/v1/usage",
            "wrong-token",
            Some(&body)
        )
        .status,
        401
    );
}

#[test]
fn a_request_row_stamped_far_in_the_future_does_not_age_out_the_others() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let token = enrol(&cp, "dp-y");
    let row = |id: &str, at_us: i64| {
        json!({"request_id": id, "at_us": at_us, "tenant": "t", "project": "p", "status": 200,
            "provider": "openai", "model": "gpt-4o", "key_source": "byok", "attempts": [],
            "input_tokens": 1, "output_tokens": 1, "cached_tokens": 0})
    };
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let batch = |from: u64, to: u64, rows: Vec<Value>| {
        let body = json!({"dataplane": "dp-y", "rows": [], "requests": rows,
            "from": {"segment": 0, "offset": from}, "to": {"segment": 0, "offset": to}});
        call(
            cp.addr,
            "POST",
            "/dataplane/v1/usage",
            token.trim(),
            Some(&body),
        )
        .status
    };
    assert_eq!(batch(0, 10, vec![row("honest", now_us)]), 200);
    assert_eq!(batch(10, 20, vec![row("forged", i64::MAX - 1)]), 200);
    let rows = cp.admin("GET", "/admin/v1/requests?project=p", None).json();
    let ids: Vec<&str> = rows["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["request_id"].as_str())
        .collect();
    assert!(ids.contains(&"honest"), "{rows}");
}
