//! A data plane's own `[providers.NAME] base_url` pins where that provider's requests — and
//! the tenants' keys — may go: a snapshot naming another origin is refused and counted, even
//! signed by the control plane (a stolen signing key, or a compromised control plane, cannot
//! redirect pinned providers).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::{eventually, ControlPlane, Driver, Gateway, Mock};

#[test]
fn a_snapshot_that_moves_a_pinned_origin_is_refused() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let elsewhere = format!(
        "{}[providers.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\n",
        cp.dataplane_config(1)
    );
    let pinned = Gateway::start(Driver::IoUring, &elsewhere);
    let refused = eventually(Duration::from_secs(15), || {
        pinned.metric("warden_snapshot_rejected_total{reason=\"origin\"}") >= Some(1)
    });
    assert!(refused.is_some(), "{}", pinned.metrics());
    assert_eq!(
        pinned.metric("warden_snapshot_version"),
        Some(0),
        "nothing is served"
    );
    assert_eq!(warden_tests::http::get(pinned.admin, "/readyz").status, 503);

    // Pinned to where the control plane sends it: served.
    let same = format!(
        "{}[providers.openai]\nbase_url = \"http://{}/v1/\"\n",
        cp.dataplane_config(1),
        mock.addr
    );
    let agreeing = Gateway::start(Driver::IoUring, &same);
    let served = eventually(Duration::from_secs(15), || {
        agreeing
            .metric("warden_snapshot_version")
            .is_some_and(|v| v > 0)
    });
    assert!(served.is_some(), "{}", agreeing.proc.stderr());
}
