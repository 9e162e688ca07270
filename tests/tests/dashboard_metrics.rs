//! The example Grafana dashboard (`deploy/grafana-warden.json`) graphs only metrics the binaries
//! export: every `warden_…` name its queries use is on a data plane's or the control plane's
//! `/metrics` after one request through a managed data plane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::{chat_body, eventually, http, ControlPlane, Driver, Gateway, Mock};

#[test]
fn every_metric_the_dashboard_queries_is_exported() {
    let dashboard = std::fs::read_to_string(format!(
        "{}/../deploy/grafana-warden.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut names: Vec<String> = Vec::new();
    for (at, _) in dashboard.match_indices("warden_") {
        let name: String = dashboard[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    assert!(names.len() >= 10, "{names:?}");

    // A managed data plane (pushes arrive there; a standalone one exports the refusals as 0).
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let (_, key) = cp.project_with_keys("sk-dashboard-test-1357");
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let served = eventually(Duration::from_secs(10), || {
        http::post_json(
            gw.addr,
            "/v1/chat/completions",
            &key,
            &chat_body("gpt-4o", "hi", false),
        )
        .status
            == 200
    });
    assert!(served.is_some(), "{}", gw.proc.stderr());
    let exported = format!(
        "{}\n{}",
        gw.metrics(),
        http::get(cp.addr, "/metrics").text()
    );
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| {
            !exported
                .lines()
                .any(|l| l.starts_with(&format!("# TYPE {n} ")))
        })
        .collect();
    assert!(missing.is_empty(), "the dashboard queries {missing:?}");
}

#[test]
fn a_standalone_data_plane_exports_snapshot_refusals_as_zeros() {
    // No control plane pushes to it, but the dashboard's refusals panel shows 0, not no data.
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::Epoll, &warden_tests::config(mock.addr, 1, ""));
    for reason in [
        "signature",
        "version",
        "invalid",
        "keys",
        "origin",
        "base",
        "persist",
    ] {
        let name = format!("warden_snapshot_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(gw.metric(&name), Some(0), "{}", gw.metrics());
    }
}
