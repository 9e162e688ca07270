//! Each data plane has its own credential, bound to its id: it enrols once with the shared
//! enrolment token (`data_dir/dataplane-token`) and from then on registers, ships usage and
//! receives pushes with its credential only. Holding the enrolment token no longer lets anyone
//! take over an enrolled id (and so read the snapshots pushed to it), post usage or move a cursor
//! in another data plane's name; an operator can revoke a credential.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::json;
use warden_tests::http::call;
use warden_tests::{eventually, ControlPlane, Driver, Gateway, Mock};

fn register(cp: &ControlPlane, bearer: &str, id: &str) -> warden_tests::http::Response {
    let body = json!({"id": id, "push_url": "http://127.0.0.1:9", "version": 0});
    call(
        cp.addr,
        "POST",
        "/dataplane/v1/register",
        bearer,
        Some(&body),
    )
}

fn usage(cp: &ControlPlane, bearer: &str, id: &str) -> u16 {
    let body = json!({"dataplane": id, "rows": [], "requests": [],
        "from": {"segment": 0, "offset": 0}, "to": {"segment": 0, "offset": 64}});
    call(cp.addr, "POST", "/dataplane/v1/usage", bearer, Some(&body)).status
}

#[test]
fn the_enrolment_token_cannot_take_over_an_enrolled_data_plane() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let token = std::fs::read_to_string(cp.data_dir().join("dataplane-token")).unwrap();
    let token = token.trim();
    let mode = std::fs::metadata(cp.data_dir().join("dataplane-credential.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A real data plane enrols by itself and keeps its credential (0600).
    let config = format!("dataplane_id = \"dp-real\"\n{}", cp.dataplane_config(1));
    let gw = Gateway::start(Driver::IoUring, &config);
    let file = gw.dir.0.join("state").join("dataplane.credential");
    assert!(eventually(Duration::from_secs(10), || file.exists()).is_some());
    let text = std::fs::read_to_string(&file).unwrap();
    let (id, credential) = text.trim().split_once('\n').unwrap();
    assert_eq!(id, "dp-real");
    assert!(
        credential.starts_with("wdc_") && credential.len() == 68,
        "{credential}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // It gets its snapshots (pushed with its credential): /readyz turns 200.
    let ready = eventually(Duration::from_secs(10), || {
        warden_tests::http::get(gw.admin, "/readyz").status == 200
    });
    assert!(ready.is_some(), "{}", gw.proc.stderr());

    // The token holder cannot re-register that id to redirect its pushes, nor ship usage as it.
    let taken = register(&cp, token, "dp-real");
    assert_eq!(taken.status, 409, "{}", taken.text());
    assert!(!taken.text().contains("wdc_"));
    assert_eq!(usage(&cp, token, "dp-real"), 401);
    // Another enrolled data plane's credential is good for that one only.
    let other = register(&cp, token, "dp-other").json()["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(other, credential);
    assert_eq!(usage(&cp, &other, "dp-real"), 401);
    assert_eq!(usage(&cp, &other, "dp-other"), 200);
    assert_eq!(register(&cp, &other, "dp-real").status, 401);
    let planes = cp.admin("GET", "/admin/v1/dataplanes", None).json();
    let real = planes["dataplanes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "dp-real")
        .cloned()
        .unwrap();
    assert_eq!(real["push_url"], format!("http://{}", gw.admin));
    assert_eq!(real["enrolled"], true);

    // Revoked: its credential is refused; enrolling again issues a new one, the old stays dead.
    assert_eq!(
        cp.admin("DELETE", "/admin/v1/dataplanes/dp-other", None)
            .status,
        204
    );
    assert_eq!(usage(&cp, &other, "dp-other"), 401);
    assert_eq!(register(&cp, &other, "dp-other").status, 401);
    let again = register(&cp, token, "dp-other").json()["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(again, other);
    assert_eq!(usage(&cp, &again, "dp-other"), 200);
    assert_eq!(usage(&cp, &other, "dp-other"), 401);
    assert_eq!(
        cp.admin("DELETE", "/admin/v1/dataplanes/nope", None).status,
        404
    );
}
