//! The control link over TLS: the control plane serves `listen` with `[tls]`, a data plane
//! reaches it at `https://` trusting `control_plane_ca_file`, enrols, registers and ships usage
//! there, and receives its snapshots over TLS on an `[admin_tls]` admin listener that the
//! control plane verifies with `[dataplanes] ca_file`. Plain HTTP on the TLS port gets nothing,
//! a data plane that does not trust the certificate never enrols, and `rotate-master-key`
//! reaches the TLS control plane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use warden_tests::http::post_json;
use warden_tests::{chat_body, eventually, ControlPlane, Driver, Gateway, Mock, TempDir};

fn fixture(name: &str) -> String {
    format!("{}/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// An admin call over https with curl (trusting the test CA).
fn admin(cp: &ControlPlane, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "--cacert",
        &fixture("ca.pem"),
        "-X",
        method,
    ])
    .args(["-H", &format!("Authorization: Bearer {}", cp.admin_token)]);
    if let Some(b) = body {
        cmd.args([
            "-H",
            "content-type: application/json",
            "--data",
            &b.to_string(),
        ]);
    }
    let out = cmd
        .arg(format!("https://localhost:{}{path}", cp.addr.port()))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn managed_config(cp: &ControlPlane, trust: bool) -> String {
    let https = format!("https://localhost:{}", cp.addr.port());
    let mut text = cp
        .dataplane_config(1)
        .replace(&format!("http://{}", cp.addr), &https);
    if trust {
        text = format!("control_plane_ca_file = \"{}\"\n{text}", fixture("ca.pem"));
    }
    format!(
        "{text}[admin_tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        fixture("server.pem"),
        fixture("server.key")
    )
}

#[test]
fn the_control_link_runs_over_verified_tls_both_ways() {
    let mock = Mock::start(&[]);
    let extra = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n[dataplanes]\nca_file = \"{}\"\n",
        fixture("server.pem"),
        fixture("server.key"),
        fixture("ca.pem")
    );
    let cp = ControlPlane::start_with(TempDir::new("controlplane"), mock.addr, &extra);
    let tenant = admin(
        &cp,
        "POST",
        "/admin/v1/tenants",
        Some(json!({"name": "t", "plan": "team"})),
    );
    let tenant = tenant["id"].as_str().unwrap();
    let project = admin(
        &cp,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/projects"),
        Some(json!({"name": "p", "environment": "production"})),
    );
    let project = project["id"].as_str().unwrap();
    admin(
        &cp,
        "POST",
        &format!("/admin/v1/projects/{project}/provider-keys"),
        Some(json!({"provider": "openai", "key": "sk-over-tls-2468"})),
    );
    let key = admin(
        &cp,
        "POST",
        &format!("/admin/v1/projects/{project}/api-keys"),
        Some(json!({"name": "k"})),
    )["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let gw = Gateway::start(Driver::IoUring, &managed_config(&cp, true));
    let served = eventually(Duration::from_secs(15), || {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            &key,
            &chat_body("gpt-4o", "tls link", false),
        )
        .status
            == 200
    });
    assert!(
        served.is_some(),
        "{}\n{}",
        gw.proc.stderr(),
        cp.proc.stderr()
    );
    let planes = admin(&cp, "GET", "/admin/v1/dataplanes", None);
    let plane = &planes["dataplanes"][0];
    assert_eq!(plane["push_url"], format!("https://{}", gw.admin));
    assert_eq!(plane["enrolled"], true);
    // The data plane's admin listener answers probes over TLS too.
    let health = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", &fixture("ca.pem")])
        .arg(format!("https://localhost:{}/healthz", gw.admin.port()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), "ok\n");
    // Usage travels over the same link.
    let shipped = eventually(Duration::from_secs(15), || {
        admin(&cp, "GET", "/admin/v1/requests", None)["requests"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    assert!(shipped.is_some(), "{}", gw.proc.stderr());

    // Plain HTTP on the control plane's TLS port gets no HTTP answer.
    let mut plain = std::net::TcpStream::connect(cp.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );

    // A data plane that does not trust the control plane's certificate never enrols.
    let config = managed_config(&cp, false).replace("dataplane_id", "x_unused");
    let untrusting = Gateway::start(Driver::IoUring, &config);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!untrusting
        .dir
        .0
        .join("state")
        .join("dataplane.credential")
        .exists());

    // `rotate-master-key` reaches the TLS control plane (trusting its own certificate) and the
    // data plane goes on serving under the new master key.
    let rotated = cp.rotate_master_key();
    assert_eq!(rotated["resealed"], 1, "{rotated}");
    let version = rotated["snapshot_version"].as_u64().unwrap();
    let metrics = || {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", &fixture("ca.pem")])
            .arg(format!("https://localhost:{}/metrics", gw.admin.port()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(eventually(Duration::from_secs(15), || metrics()
        .contains(&format!("warden_snapshot_version {version}")))
    .is_some());
    assert_eq!(
        post_json(
            gw.addr,
            "/v1/chat/completions",
            &key,
            &chat_body("gpt-4o", "after rotation", false)
        )
        .status,
        200
    );
}
