//! The control plane as an operator drives it: tenants, projects, keys and provider keys through
//! the admin API reach the data planes within a second; deletions take effect; validation gives
//! clear 4xx; no key is ever shown again or written anywhere in plaintext; a data plane keeps
//! serving from its last good snapshot when the control plane is away; snapshot swaps under load
//! fail no request.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use warden_tests::http::{post_json, Response};
use warden_tests::{chat_body, eventually, ControlPlane, Driver, Gateway, Mock};

const PROVIDER_KEY: &str = "sk-cp-provider-secret-9876";

struct Setup {
    project: String,
    key_id: String,
    key: String,
    provider_key_id: String,
}

fn id(r: &Response) -> String {
    assert!(r.status == 201, "{} {}", r.status, r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// A tenant, a project, a Warden key and an OpenAI key, through the admin API.
fn setup(cp: &ControlPlane, tenant_name: &str) -> Setup {
    let tenant = id(&cp.admin(
        "POST",
        "/admin/v1/tenants",
        Some(&json!({"name": tenant_name, "plan": "team"})),
    ));
    let project = id(&cp.admin(
        "POST",
        &format!("/admin/v1/tenants/{tenant}/projects"),
        Some(&json!({"name": "prod", "environment": "production"})),
    ));
    let created = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{project}/api-keys"),
        Some(&json!({"name": "app"})),
    );
    let body = created.json();
    let key = body["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("wdn_") && key.len() == 4 + 64,
        "256-bit key: {key}"
    );
    let pk = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{project}/provider-keys"),
        Some(&json!({"provider": "openai", "key": PROVIDER_KEY, "label": "main"})),
    );
    assert!(
        !pk.text().contains(PROVIDER_KEY),
        "the provider key is never shown again"
    );
    Setup {
        project,
        key_id: body["id"].as_str().unwrap().to_owned(),
        key,
        provider_key_id: id(&pk),
    }
}

/// One request with Warden key `key` is answered 200, and went upstream with the provider key
/// ending in `last4`.
fn served_on(gw: &Gateway, mock: &Mock, key: &str, last4: &str) -> bool {
    let n = mock.captured().len();
    chat(gw, key).status == 200
        && mock
            .captured()
            .get(n)
            .is_some_and(|c| c["headers"]["authorization"] == format!("****{last4}").as_str())
}

fn chat(gw: &Gateway, key: &str) -> Response {
    post_json(
        gw.addr,
        "/v1/chat/completions",
        key,
        &chat_body("gpt-4o", "hello", false),
    )
}

#[test]
fn an_operator_manages_keys_and_the_data_plane_follows() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(2));
    let s = setup(&cp, "acme");
    let took = eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200)
        .expect("the new key works");
    println!("a new key worked through the data plane after {took:?}");
    let sent = mock.captured().pop().unwrap();
    assert_eq!(
        sent["headers"]["authorization"],
        format!("****{}", &PROVIDER_KEY[PROVIDER_KEY.len() - 4..])
    );

    // The control plane records the acknowledgement once the push's answer is back, which
    // may be just after the shards already serve the new snapshot.
    let acked = || {
        let planes = cp.admin("GET", "/admin/v1/dataplanes", None).json();
        let version = planes["snapshot_version"].as_u64().unwrap();
        (planes["dataplanes"][0]["acked_version"].as_u64() == Some(version)).then_some(version)
    };
    assert!(eventually(Duration::from_secs(5), || acked().is_some()).is_some());
    let version = acked().unwrap();
    assert!(gw
        .metrics()
        .contains(&format!("warden_snapshot_version {version}")));

    let listed = cp.admin(
        "GET",
        &format!("/admin/v1/projects/{}/provider-keys", s.project),
        None,
    );
    assert_eq!(
        listed.json()["provider_keys"][0]["fingerprint"]
            .as_str()
            .map(|f| f.starts_with("sha256:")),
        Some(true)
    );
    assert!(!listed.text().contains(PROVIDER_KEY));

    // Deleting the provider key: a clear error, not a silent fallback.
    assert_eq!(
        cp.admin(
            "DELETE",
            &format!("/admin/v1/provider-keys/{}", s.provider_key_id),
            None
        )
        .status,
        204
    );
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 400).is_some());
    assert_eq!(
        chat(&gw, &s.key).json()["error"]["code"],
        "provider_key_missing"
    );

    // Deleting the Warden key: 401.
    assert_eq!(
        cp.admin("DELETE", &format!("/admin/v1/api-keys/{}", s.key_id), None)
            .status,
        204
    );
    let took = eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 401)
        .expect("the deleted key stops working");
    println!("a deleted key was refused after {took:?}");
}

#[test]
fn a_data_plane_restarted_without_its_control_plane_serves_the_last_good_snapshot() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let config = cp.dataplane_config(1);
    let gw = Gateway::start(Driver::IoUring, &config);
    let s = setup(&cp, "acme");
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    let _cp_dir = cp.stop();
    let dir = gw.kill();
    let gw = Gateway::start_in(dir, Driver::Epoll, &config, &[]);
    assert_eq!(
        chat(&gw, &s.key).status,
        200,
        "served from the last good snapshot"
    );
    assert!(warden_tests::http::get(gw.admin, "/readyz").status == 200);
}

#[test]
fn a_snapshot_the_data_plane_cannot_write_down_is_not_served() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let s = setup(&cp, "acme");
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    // A directory where the data plane writes its next snapshot file: the write fails, as on a
    // full or read-only disk.
    let blocker = gw.dir.0.join("state").join("snapshot.tmp");
    std::fs::create_dir(&blocker).unwrap();
    let refused = "warden_snapshot_rejected_total{reason=\"persist\"}";
    assert_eq!(gw.metric(refused), Some(0));
    assert_eq!(
        cp.admin("DELETE", &format!("/admin/v1/api-keys/{}", s.key_id), None)
            .status,
        204
    );
    assert!(
        eventually(Duration::from_secs(10), || gw.metric(refused) > Some(0)).is_some(),
        "the push that cannot be written down is refused"
    );
    // Not served: a restart would not find it, so the data plane serves what is on disk.
    assert_eq!(
        chat(&gw, &s.key).status,
        200,
        "served from the last good snapshot"
    );
    std::fs::remove_dir(&blocker).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || chat(&gw, &s.key).status == 401).is_some(),
        "the control plane's next push is written down and served"
    );
    let config = cp.dataplane_config(1);
    let _cp_dir = cp.stop();
    let gw = Gateway::start_in(gw.kill(), Driver::Epoll, &config, &[]);
    assert_eq!(
        chat(&gw, &s.key).status,
        401,
        "a restart serves what was served"
    );
}

#[test]
fn the_admin_api_validates_and_protects() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let s = setup(&cp, "acme");
    let err = |r: Response| {
        (
            r.status,
            r.json()["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    let pk = |body: Value| {
        cp.admin(
            "POST",
            &format!("/admin/v1/projects/{}/provider-keys", s.project),
            Some(&body),
        )
    };
    assert_eq!(err(pk(json!({"provider": "azure", "key": "k1"}))).0, 400);
    let (status, message) = err(pk(json!({"provider": "openai", "key": "sk with space"})));
    assert_eq!(status, 400);
    assert!(message.contains("whitespace") && !message.contains("sk with space"));
    assert_eq!(err(pk(json!({"provider": "openai", "key": ""}))).0, 400);
    assert_eq!(
        err(pk(json!({"provider": "openai", "key": "x".repeat(600)}))).0,
        400
    );
    assert_eq!(
        err(pk(
            json!({"provider": "openai", "key": "k1", "colour": "red"})
        ))
        .0,
        400,
        "unknown fields"
    );
    assert_eq!(
        err(pk(json!({"provider": "openai", "key": PROVIDER_KEY}))).0,
        409,
        "duplicate key"
    );
    assert_eq!(
        err(cp.admin(
            "POST",
            "/admin/v1/tenants",
            Some(&json!({"name": "acme", "plan": "team"}))
        ))
        .0,
        409
    );
    assert_eq!(
        err(cp.admin(
            "POST",
            "/admin/v1/tenants",
            Some(&json!({"name": "x", "plan": "gold"}))
        ))
        .0,
        400
    );
    assert_eq!(
        err(cp.admin(
            "POST",
            "/admin/v1/tenants/ten_nope/projects",
            Some(&json!({"name": "p", "environment": "staging"}))
        ))
        .0,
        404
    );
    assert_eq!(
        err(cp.admin(
            "POST",
            "/admin/v1/projects/prj_nope/api-keys",
            Some(&json!({"name": "k"}))
        ))
        .0,
        404
    );
    assert_eq!(
        cp.admin("DELETE", "/admin/v1/api-keys/key_nope", None)
            .status,
        404
    );
    // Developer-plan tenants bring no keys of their own.
    let dev = id(&cp.admin(
        "POST",
        "/admin/v1/tenants",
        Some(&json!({"name": "hobby", "plan": "developer"})),
    ));
    let dev_project = id(&cp.admin(
        "POST",
        &format!("/admin/v1/tenants/{dev}/projects"),
        Some(&json!({"name": "p", "environment": "development"})),
    ));
    let r = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{dev_project}/provider-keys"),
        Some(&json!({"provider": "openai", "key": "k2"})),
    );
    assert_eq!(r.status, 403);
    // No token, wrong token.
    let anonymous = warden_tests::http::call(cp.addr, "GET", "/admin/v1/tenants", "", None);
    assert_eq!(anonymous.status, 401);
    let wrong = warden_tests::http::call(cp.addr, "GET", "/admin/v1/tenants", "wat_wrong", None);
    assert_eq!(wrong.status, 401);
    // The data-plane token is not an admin token.
    let dp_token = std::fs::read_to_string(cp.data_dir().join("dataplane-token")).unwrap();
    assert_eq!(
        warden_tests::http::call(cp.addr, "GET", "/admin/v1/tenants", dp_token.trim(), None).status,
        401
    );
    // Generated secrets are private to their owner.
    use std::os::unix::fs::PermissionsExt;
    for f in ["admin-token", "dataplane-token", "master.key"] {
        let mode = std::fs::metadata(cp.data_dir().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}

#[test]
fn keys_stay_inside_their_project_and_no_plaintext_is_left_anywhere() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let a = setup(&cp, "acme");
    // A second tenant's project with no provider key of its own.
    let t2 = id(&cp.admin(
        "POST",
        "/admin/v1/tenants",
        Some(&json!({"name": "globex", "plan": "team"})),
    ));
    let p2 = id(&cp.admin(
        "POST",
        &format!("/admin/v1/tenants/{t2}/projects"),
        Some(&json!({"name": "p", "environment": "staging"})),
    ));
    let b_key = cp
        .admin(
            "POST",
            &format!("/admin/v1/projects/{p2}/api-keys"),
            Some(&json!({"name": "b"})),
        )
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &a.key).status == 200).is_some());
    // b's key may reach the data plane in a later snapshot than a's.
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &b_key).status != 401).is_some());
    let r = chat(&gw, &b_key);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("provider_key_missing")),
        "never another tenant's key"
    );

    // A tampered ciphertext: a clean 5xx in the caller's dialect, not a panic. (Stamped as a
    // write of the control plane's would be, so that its next build reads the row again.)
    cp.sql("UPDATE meta SET value = value + 1 WHERE name = 'row_seq'");
    cp.sql(
        "UPDATE provider_keys SET ciphertext = CASE WHEN substr(ciphertext, 1, 1) <> '0' \
         THEN '0' ELSE '1' END || substr(ciphertext, 2), \
         seq = (SELECT value FROM meta WHERE name = 'row_seq')",
    );
    cp.admin(
        "PUT",
        "/admin/v1/models/republish",
        Some(&json!({"provider": "openai", "upstream_model": "gpt-4o"})),
    );
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &a.key).status == 500).is_some());
    let r = chat(&gw, &a.key);
    assert_eq!(r.json()["error"]["code"], "internal_error");
    assert_eq!(
        post_json(
            gw.addr,
            "/v1/chat/completions",
            &a.key,
            &chat_body("gpt-4o", "still up", false)
        )
        .status,
        500
    );

    let gw_dir = gw.dir.0.clone();
    drop(gw);
    cp.dump_store();
    let cp_dir = cp.dir.0.clone();
    drop(cp);
    for dir in [gw_dir, cp_dir] {
        for entry in walk(&dir) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            for secret in [PROVIDER_KEY, a.key.as_str(), b_key.as_str()] {
                assert!(
                    !text.contains(secret),
                    "plaintext key in {}",
                    entry.display()
                );
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_hundred_snapshot_pushes_under_load_fail_no_request() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(2));
    let s = setup(&cp, "acme");
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let addr = gw.addr;
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed, key) = (
                Arc::clone(&stop),
                Arc::clone(&ok),
                Arc::clone(&failed),
                s.key.clone(),
            );
            thread::spawn(move || {
                let mut c = warden_tests::http::Conn::open(addr);
                let body = chat_body("gpt-4o", "steady", false).to_string();
                while !stop.load(Relaxed) {
                    c.send(&warden_tests::http::request(
                        "POST",
                        "/v1/chat/completions",
                        Some(&key),
                        body.as_bytes(),
                    ));
                    match c.read_response() {
                        Some(r) if r.status == 200 => ok.fetch_add(1, Relaxed),
                        _ => failed.fetch_add(1, Relaxed),
                    };
                }
            })
        })
        .collect();
    let before = cp.admin("GET", "/admin/v1/snapshot", None).json()["version"]
        .as_u64()
        .unwrap();
    for i in 0..100 {
        let r = cp.admin(
            "PUT",
            &format!("/admin/v1/models/alias-{i}"),
            Some(&json!({"provider": "openai", "upstream_model": "gpt-4o"})),
        );
        assert_eq!(r.status, 200);
    }
    let last = before + 100;
    assert!(
        eventually(Duration::from_secs(10), || gw
            .metrics()
            .contains(&format!("warden_snapshot_version {last}")))
        .is_some(),
        "the data plane caught up to v{last}"
    );
    stop.store(true, Relaxed);
    for t in load {
        t.join().unwrap();
    }
    println!("{} requests during 100 pushes", ok.load(Relaxed));
    assert_eq!(failed.load(Relaxed), 0);
    assert!(ok.load(Relaxed) > 100);
}

#[test]
fn a_master_key_rotation_keeps_every_data_plane_serving() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let s = setup(&cp, "acme");
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    let rotated = cp.rotate_master_key();
    assert_eq!(rotated["resealed"], 1);
    assert!(cp.data_dir().join("master.key.previous").exists());
    let version = rotated["snapshot_version"].as_u64().unwrap();
    assert!(eventually(Duration::from_secs(5), || gw
        .metrics()
        .contains(&format!("warden_snapshot_version {version}")))
    .is_some());
    assert_eq!(
        chat(&gw, &s.key).status,
        200,
        "keys sealed under the new master key open"
    );
    assert_eq!(
        mock.captured().pop().unwrap()["headers"]["authorization"],
        "****9876"
    );
}

#[test]
fn a_data_plane_that_was_away_catches_up_and_bad_snapshots_are_refused() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let config = cp.dataplane_config(1);
    let gw = Gateway::start(Driver::IoUring, &config);
    let s = setup(&cp, "acme");
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    let dir = gw.kill();
    // Changes while the data plane is away.
    let later = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{}/api-keys", s.project),
        Some(&json!({"name": "later"})),
    );
    let later_key = later.json()["key"].as_str().unwrap().to_owned();
    let gw = Gateway::start_in(dir, Driver::IoUring, &config, &[]);
    assert!(
        eventually(Duration::from_secs(5), || chat(&gw, &later_key).status
            == 200)
        .is_some(),
        "caught up"
    );

    // The enrolment token does not open the intake: only this data plane's own credential does.
    let enrolment = std::fs::read_to_string(cp.data_dir().join("dataplane-token")).unwrap();
    let mut c = warden_tests::http::Conn::open(gw.admin);
    c.send(
        format!(
            "PUT /v1/snapshot HTTP/1.1\r\nauthorization: Bearer {}\r\ncontent-length: 1\r\n\r\nx",
            enrolment.trim()
        )
        .as_bytes(),
    );
    assert_eq!(c.read_response().unwrap().status, 401);
    // Holding even the credential is not enough: a push that the control plane did not sign is
    // refused and counted, and the old snapshot keeps serving.
    let file = std::fs::read_to_string(gw.dir.0.join("state").join("dataplane.credential"));
    let token = file.unwrap().lines().nth(1).unwrap().to_owned();
    let push = |body: &[u8]| {
        let mut c = warden_tests::http::Conn::open(gw.admin);
        let mut req = format!(
            "PUT /v1/snapshot HTTP/1.1\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\n\r\n",
            token.trim(),
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        c.send(&req);
        c.read_response().unwrap()
    };
    let r = push(&[b'x'; 64]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("not signed"), "{}", r.text());
    // The attack from the review: take the real snapshot, point the provider at another host,
    // push it. The bytes still parse, but the signature no longer verifies.
    let signed = std::fs::read(gw.dir.0.join("state").join("snapshot.rkyv")).unwrap();
    let from = format!("{}", mock.addr).into_bytes();
    let at = signed
        .windows(from.len())
        .position(|w| w == from.as_slice())
        .expect("the provider's address is in the snapshot");
    let mut forged = signed.clone();
    forged[at + from.len() - 1] ^= 1; // another port
    let r = push(&forged);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("signature"), "{}", r.text());
    // Unsigned but well-formed: the payload alone.
    let r = push(&signed[72..]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        gw.metrics()
            .lines()
            .find(|l| l.starts_with("warden_snapshot_rejected_total{reason=\"signature\"}"))
            .unwrap(),
        "warden_snapshot_rejected_total{reason=\"signature\"} 3"
    );
    let mut c = warden_tests::http::Conn::open(gw.admin);
    c.send(b"PUT /v1/snapshot HTTP/1.1\r\nauthorization: Bearer wdp_wrong\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(c.read_response().unwrap().status, 401);
    assert_eq!(
        chat(&gw, &s.key).status,
        200,
        "the signed snapshot still serves"
    );

    // A last good file changed on disk is not served at boot (the control plane is away).
    let cp_dir = cp.stop();
    let dir = gw.kill();
    let last_good = dir.0.join("state").join("snapshot.rkyv");
    let mut bytes = std::fs::read(&last_good).unwrap();
    bytes[at + from.len() - 1] ^= 1;
    std::fs::write(&last_good, &bytes).unwrap();
    let gw = Gateway::start_in(dir, Driver::IoUring, &config, &[]);
    assert_eq!(chat(&gw, &s.key).status, 401, "nothing is served from it");
    assert_eq!(
        warden_tests::http::get(gw.admin, "/readyz").status,
        503,
        "not ready without a snapshot"
    );
    assert!(
        gw.proc.stderr().contains("refusing the last good snapshot"),
        "{}",
        gw.proc.stderr()
    );
    drop(cp_dir);
}

/// A control plane, a data plane that follows it, a project whose key is answered there, and
/// the project's guardrails path.
fn guarded_project(mock: &Mock) -> (ControlPlane, Gateway, Setup, String) {
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let s = setup(&cp, "acme");
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    let path = format!("/admin/v1/projects/{}/guardrails", s.project);
    (cp, gw, s, path)
}

#[test]
fn phone_settings_set_through_the_admin_api_reach_the_data_plane() {
    let mock = Mock::start(&[]);
    let (cp, gw, s, path) = guarded_project(&mock);
    let bad = cp.admin(
        "PUT",
        &path,
        Some(&json!({"pii": "redact", "phone_regions": ["US", "XX"]})),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().contains("phone_regions") && bad.text().contains("XX"),
        "{}",
        bad.text()
    );
    let policy = json!({"pii": "redact", "phone_regions": ["US"]});
    assert_eq!(cp.admin("PUT", &path, Some(&policy)).status, 200);
    assert_eq!(cp.admin("GET", &path, None).json(), policy);
    // What the provider saw of `prompt`.
    let sent = |prompt: &str| {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            &s.key,
            &chat_body("gpt-4o", prompt, false),
        );
        mock.captured()
            .last()
            .map(|c| c.to_string())
            .unwrap_or_default()
    };
    // US only: the Berlin number stays, the Boston one is redacted before the provider.
    let formatted = "Berlin office: 030 12345678. Boston office: (617) 253-1000.";
    let reached = eventually(Duration::from_secs(5), || {
        let body = sent(formatted);
        body.contains("030 12345678") && !body.contains("253-1000")
    });
    assert!(reached.is_some(), "{}", sent(formatted));
    // The project takes bare numbers without a phone word (the data plane does not): the Boston
    // number written as bare digits goes too, and the setting reads back as stored.
    let bare = "Berlin office: 030 12345678. Boston office: 6172531000.";
    assert!(sent(bare).contains("6172531000"), "{}", sent(bare));
    let policy = json!({"pii": "redact", "phone_regions": ["US"], "phone_standalone": true});
    assert_eq!(cp.admin("PUT", &path, Some(&policy)).status, 200);
    assert_eq!(cp.admin("GET", &path, None).json(), policy);
    let reached = eventually(Duration::from_secs(5), || {
        let body = sent(bare);
        body.contains("030 12345678") && !body.contains("6172531000")
    });
    assert!(reached.is_some(), "{}", sent(bare));
    let bad = cp.admin(
        "PUT",
        &path,
        Some(&json!({"pii": "redact", "phone_standalone": "yes"})),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
}

#[test]
fn refusing_unscanned_content_set_through_the_admin_api_reaches_the_data_plane() {
    let mock = Mock::start(&[]);
    let (cp, gw, s, path) = guarded_project(&mock);
    let bad = cp.admin("PUT", &path, Some(&json!({"unscanned": "redact"})));
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text().contains("unscanned takes off, flag or block"),
        "{}",
        bad.text()
    );
    let policy = json!({"unscanned": "block"});
    assert_eq!(cp.admin("PUT", &path, Some(&policy)).status, 200);
    assert_eq!(cp.admin("GET", &path, None).json(), policy);
    let image = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]});
    let refused = eventually(Duration::from_secs(5), || {
        post_json(gw.addr, "/v1/chat/completions", &s.key, &image).status == 400
    });
    assert!(
        refused.is_some(),
        "the data plane refuses an image once the policy reaches it"
    );
    assert_eq!(chat(&gw, &s.key).status, 200, "text still goes through");
}

#[test]
fn guardrail_policies_set_through_the_admin_api_reach_the_data_plane() {
    let mock = Mock::start(&[]);
    let (cp, gw, s, path) = guarded_project(&mock);
    // The injection model's thresholds: fractions in (0, 1], kept as given.
    let bad = cp.admin(
        "PUT",
        &path,
        Some(&json!({"injection": "block", "injection_tool_threshold": 0})),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().contains("injection_tool_threshold"),
        "{}",
        bad.text()
    );
    let tuned =
        json!({"injection": "flag", "injection_threshold": 0.8, "injection_flag_threshold": 0.3});
    assert_eq!(cp.admin("PUT", &path, Some(&tuned)).status, 200);
    assert_eq!(cp.admin("GET", &path, None).json(), tuned);
    assert_eq!(
        cp.admin(
            "PUT",
            &path,
            Some(&json!({"secrets": "block", "pii": "redact"}))
        )
        .status,
        200
    );
    assert_eq!(
        cp.admin("GET", &path, None).json(),
        json!({"secrets": "block", "pii": "redact"})
    );
    assert_eq!(
        cp.admin("PUT", &path, Some(&json!({"response_pii": "restore"})))
            .status,
        400
    );
    assert_eq!(
        cp.admin("PUT", &path, Some(&json!({"pii": "shred"})))
            .status,
        400
    );
    let secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let blocked = || {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            &s.key,
            &chat_body("gpt-4o", &format!("use {secret}"), false),
        )
    };
    assert!(
        eventually(Duration::from_secs(5), || blocked().status == 400).is_some(),
        "the policy reached the data plane"
    );
    assert_eq!(blocked().json()["error"]["code"], "guardrail_blocked");

    // Operator patterns are compiled when set: what Hyperscan cannot build is refused, by name.
    let bad = cp.admin(
        "PUT",
        &path,
        Some(&json!({"custom_patterns": [
            {"id": "ticket", "pattern": r"\bTCK-\d{5}\b", "action": "redact"},
            {"id": "quoted", "pattern": r#"(['"]).*\1"#, "action": "block"},
        ]})),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().contains("custom pattern quoted"),
        "{}",
        bad.text()
    );
    let policy = json!({"secrets": "block", "custom_patterns": [
        {"id": "ticket", "pattern": r"\bTCK-\d{5}\b", "action": "redact"},
    ]});
    assert_eq!(cp.admin("PUT", &path, Some(&policy)).status, 200);
    let fetched = cp.admin("GET", &path, None).json();
    assert_eq!(fetched["custom_patterns"][0]["id"], "ticket");
    assert_eq!(fetched["custom_patterns"][0]["response_action"], "off");
    let redacted = || {
        let n = mock.captured().len();
        let res = post_json(
            gw.addr,
            "/v1/chat/completions",
            &s.key,
            &chat_body("gpt-4o", "see TCK-48213 for details", false),
        );
        let sent = mock.captured().get(n).map(|c| c["body"].to_string());
        res.status == 200
            && sent.is_some_and(|b| b.contains("[TICKET_1]") && !b.contains("TCK-48213"))
    };
    assert!(
        eventually(Duration::from_secs(5), redacted).is_some(),
        "the operator's pattern reached the data plane"
    );
    // The request log shows the verdict and how long the request took.
    let log = format!("/admin/v1/requests?project={}", s.project);
    let flagged = || {
        let rows = cp.admin("GET", &log, None).json();
        rows["requests"].as_array().and_then(|rows| {
            rows.iter()
                .find(|r| r["verdicts"].as_array().is_some_and(|v| !v.is_empty()))
                .cloned()
        })
    };
    assert!(
        eventually(Duration::from_secs(10), || flagged().is_some()).is_some(),
        "{}",
        cp.admin("GET", &log, None).text()
    );
    let row = flagged().unwrap();
    let v = &row["verdicts"][0];
    assert_eq!(
        (v["detector"].as_str(), v["action"].as_str()),
        (Some("ticket"), Some("redact")),
        "{row}"
    );
    assert!(row["latency_us"].as_i64().unwrap() > 0, "{row}");
    assert_eq!(row["api_key"], s.key_id.as_str());
    assert!(
        !row.to_string().contains("TCK-48213"),
        "never the text: {row}"
    );
}

#[test]
fn routing_pooled_keys_and_fallbacks_set_through_the_admin_api() {
    let mock = Mock::start(&["--key-status", &format!("{PROVIDER_KEY}=401")]);
    let cp = ControlPlane::start(mock.addr);
    // The polls below send the failing key one request each until a snapshot arrives: with the
    // default five, a slow snapshot opened its breaker, and the request the operator is shown
    // below skipped the key instead of falling back from it.
    let config = cp.dataplane_config(1) + "[fallback]\nbreaker_failures = 1000\n";
    let gw = Gateway::start(Driver::IoUring, &config);
    let s = setup(&cp, "acme");
    let routing = format!("/admin/v1/projects/{}/routing", s.project);
    assert_eq!(
        cp.admin("GET", &routing, None).json(),
        json!({"key_mode": "byok_then_pooled", "providers": {}})
    );
    // The project's only key is revoked and there is no pooled key yet: the 401 is the answer.
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 401).is_some());
    let pooled = cp.admin(
        "POST",
        "/admin/v1/pooled-keys",
        Some(&json!({"provider": "openai", "key": "sk-operator-pool-1111"})),
    );
    assert_eq!(pooled.status, 201, "{}", pooled.text());
    assert!(
        eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some(),
        "byok_then_pooled: the pooled key answers once the BYOK key fails"
    );
    // The operator sees the request, its key source and the fallback it took.
    let requests = format!("/admin/v1/requests?project={}", s.project);
    let seen = eventually(Duration::from_secs(10), || {
        cp.admin("GET", &requests, None).json()["requests"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["key_source"] == "pooled"))
    });
    assert!(
        seen.is_some(),
        "{}",
        cp.admin("GET", &requests, None).text()
    );
    let rows = cp.admin("GET", &requests, None).json();
    let row = rows["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key_source"] == "pooled")
        .unwrap()
        .clone();
    assert_eq!(row["fallbacks"], 1, "{row}");
    assert_eq!(row["attempts"][0]["key_source"], "byok");
    assert_eq!(row["attempts"][0]["status"], 401);
    assert_eq!(row["attempts"][1]["outcome"], "ok");
    assert!(row["input_tokens"].as_u64().unwrap() > 0);
    assert!(!rows.to_string().contains("sk-operator-pool-1111"));
    assert!(!rows.to_string().contains(PROVIDER_KEY));
    // byok_only keeps the pooled key out.
    let set = cp.admin("PUT", &routing, Some(&json!({"key_mode": "byok_only"})));
    assert_eq!(set.status, 200, "{}", set.text());
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 401).is_some());
    assert_eq!(
        cp.admin("PUT", &routing, Some(&json!({"key_mode": "sometimes"})))
            .status,
        400
    );
    assert_eq!(
        cp.admin(
            "PUT",
            &routing,
            Some(&json!({"providers": {"nope": "pooled_only"}}))
        )
        .status,
        400
    );
    // A model's fallbacks must be other known aliases.
    let model = |body: serde_json::Value| cp.admin("PUT", "/admin/v1/models/gpt-4o", Some(&body));
    assert_eq!(
        model(json!({"provider": "openai", "upstream_model": "gpt-4o", "fallbacks": ["no-such-model"]})).status,
        400
    );
    let ok = model(
        json!({"provider": "openai", "upstream_model": "gpt-4o", "fallbacks": ["gpt-4o-mini"]}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let listed = cp.admin("GET", "/admin/v1/models", None).json();
    let gpt = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["alias"] == "gpt-4o")
        .unwrap()
        .clone();
    assert_eq!(gpt["fallbacks"], json!(["gpt-4o-mini"]));
    // A catalog no snapshot can be built from is refused, so publishing never wedges: an alias
    // another one falls back to, or a tier of the built-in `auto` route group, stays until
    // nothing names it; a model may not take a route group's name or leave a tier non-chat.
    for alias in ["gpt-4o-mini", "claude-4-sonnet"] {
        let gone = cp.admin("DELETE", &format!("/admin/v1/models/{alias}"), None);
        assert_eq!(gone.status, 409, "{alias}: {}", gone.text());
        assert_eq!(gone.json()["error"]["type"], "conflict");
    }
    let as_group = cp.admin(
        "PUT",
        "/admin/v1/models/auto",
        Some(&json!({"provider": "openai", "upstream_model": "gpt-4o"})),
    );
    assert_eq!(as_group.status, 400, "{}", as_group.text());
    let embedding_tier = cp.admin(
        "PUT",
        "/admin/v1/models/o3",
        Some(&json!({"provider": "openai", "upstream_model": "text-embedding-3-small", "kind": "embedding"})),
    );
    assert_eq!(embedding_tier.status, 400, "{}", embedding_tier.text());
    let scratch = cp.admin(
        "PUT",
        "/admin/v1/models/scratch",
        Some(&json!({"provider": "openai", "upstream_model": "gpt-4o"})),
    );
    assert_eq!(scratch.status, 200, "{}", scratch.text());
    assert_eq!(
        cp.admin("DELETE", "/admin/v1/models/scratch", None).status,
        204
    );
    // Every change still publishes.
    let after = cp.admin(
        "PUT",
        "/admin/v1/models/scratch",
        Some(&json!({"provider": "openai", "upstream_model": "gpt-4o"})),
    );
    assert_eq!(after.status, 200, "{}", after.text());

    // A developer-plan tenant may not route to its own keys, and may not add any.
    let dev = id(&cp.admin(
        "POST",
        "/admin/v1/tenants",
        Some(&json!({"name": "hobby", "plan": "developer"})),
    ));
    let dev_project = id(&cp.admin(
        "POST",
        &format!("/admin/v1/tenants/{dev}/projects"),
        Some(&json!({"name": "side", "environment": "development"})),
    ));
    let forbidden = cp.admin(
        "PUT",
        &format!("/admin/v1/projects/{dev_project}/routing"),
        Some(&json!({"key_mode": "byok_only"})),
    );
    assert_eq!(forbidden.status, 403, "{}", forbidden.text());
    let add = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{dev_project}/provider-keys"),
        Some(&json!({"provider": "openai", "key": "sk-dev-own-key"})),
    );
    assert!((400..500).contains(&add.status), "{}", add.text());
}

#[test]
fn a_tenant_moved_to_the_developer_plan_is_served_on_pooled_keys_only() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let s = setup(&cp, "acme");
    let pooled = cp.admin(
        "POST",
        "/admin/v1/pooled-keys",
        Some(&json!({"provider": "openai", "key": "sk-operator-pool-2222"})),
    );
    assert_eq!(pooled.status, 201, "{}", pooled.text());
    let served_on = |last4: &str| served_on(&gw, &mock, &s.key, last4);
    let own = &PROVIDER_KEY[PROVIDER_KEY.len() - 4..];
    assert!(eventually(Duration::from_secs(5), || served_on(own)).is_some());
    let tenants = cp.admin("GET", "/admin/v1/tenants", None).json();
    let tenant = tenants["tenants"][0]["id"].as_str().unwrap().to_owned();
    let plan = format!("/admin/v1/tenants/{tenant}/plan");

    let moved = cp.admin("PUT", &plan, Some(&json!({"plan": "developer"})));
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["plan"], "developer");
    assert!(
        eventually(Duration::from_secs(5), || served_on("2222")).is_some(),
        "on the developer plan the pooled key serves, though the project's own key is still stored"
    );
    let add = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{}/provider-keys", s.project),
        Some(&json!({"provider": "openai", "key": "sk-another-own-key"})),
    );
    assert_eq!(add.status, 403, "{}", add.text());

    let back = cp.admin("PUT", &plan, Some(&json!({"plan": "team"})));
    assert_eq!(back.status, 200, "{}", back.text());
    assert!(eventually(Duration::from_secs(5), || served_on(own)).is_some());
    assert_eq!(
        cp.admin(
            "PUT",
            "/admin/v1/tenants/ten_nope/plan",
            Some(&json!({"plan": "team"}))
        )
        .status,
        404
    );
    assert_eq!(
        cp.admin("PUT", &plan, Some(&json!({"plan": "platinum"})))
            .status,
        400
    );
}

#[test]
fn a_projects_keys_are_tried_in_the_priority_order_the_operator_sets() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let s = setup(&cp, "acme");
    let second = cp.admin(
        "POST",
        &format!("/admin/v1/projects/{}/provider-keys", s.project),
        Some(&json!({"provider": "openai", "key": "sk-second-key-7777", "priority": 1})),
    );
    assert_eq!(second.status, 201, "{}", second.text());
    let served_on = |last4: &str| served_on(&gw, &mock, &s.key, last4);
    let first = &PROVIDER_KEY[PROVIDER_KEY.len() - 4..];
    assert!(eventually(Duration::from_secs(5), || served_on(first)).is_some());
    // The first key moves behind the second: the second serves.
    let path = format!("/admin/v1/provider-keys/{}/priority", s.provider_key_id);
    let moved = cp.admin("PUT", &path, Some(&json!({"priority": 2})));
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["priority"], 2);
    assert!(eventually(Duration::from_secs(5), || served_on("7777")).is_some());
    assert_eq!(
        cp.admin("PUT", &path, Some(&json!({"priority": 2_000_000})))
            .status,
        400
    );
    assert_eq!(
        cp.admin(
            "PUT",
            "/admin/v1/provider-keys/pk_nope/priority",
            Some(&json!({"priority": 1}))
        )
        .status,
        404
    );
    // A project key is not a pooled key, and the other way round.
    assert_eq!(
        cp.admin(
            "PUT",
            &format!("/admin/v1/pooled-keys/{}/priority", s.provider_key_id),
            Some(&json!({"priority": 1}))
        )
        .status,
        404
    );
}

#[test]
fn limits_set_through_the_admin_api_are_enforced_by_the_data_plane() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(2));
    let s = setup(&cp, "acme");
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    let path = format!("/admin/v1/projects/{}/limits", s.project);
    assert_eq!(
        cp.admin("PUT", &path, Some(&json!({"monthly_spend_usd": "ten"})))
            .status,
        400
    );
    let set = cp.admin(
        "PUT",
        &path,
        Some(&json!({"requests_per_minute": 1, "monthly_spend_usd": "100.00"})),
    );
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(
        cp.admin("GET", &path, None).json(),
        json!({"requests_per_minute": 1, "monthly_spend_usd": "100.00"})
    );
    // Once the limit is in, at most one request a minute gets through: two in a row cannot
    // both succeed, and the refusal carries the code.
    let refused = eventually(Duration::from_secs(5), || {
        let b = chat(&gw, &s.key);
        b.status == 429 && b.json()["error"]["code"] == "rate_limit_exceeded"
    });
    assert!(refused.is_some(), "the limit reached the data plane");
}

#[test]
fn a_projects_warden_keys_are_listed_by_hint_never_by_key() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let s = setup(&cp, "acme");
    let path = format!("/admin/v1/projects/{}/api-keys", s.project);
    let second = cp.admin("POST", &path, Some(&json!({"name": "batch"})));
    let second_key = second.json()["key"].as_str().unwrap().to_owned();

    let list = cp.admin("GET", &path, None);
    assert_eq!(list.status, 200, "{}", list.text());
    let text = list.text();
    assert!(
        !text.contains(&s.key) && !text.contains(&second_key),
        "keys are shown once, at creation: {text}"
    );
    let keys = list.json()["api_keys"].as_array().unwrap().clone();
    let mut names: Vec<&str> = keys.iter().map(|k| k["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["app", "batch"]);
    let app = keys.iter().find(|k| k["name"] == "app").unwrap();
    assert_eq!(app["id"], s.key_id.as_str());
    assert_eq!(app["hint"], format!("wdn_…{}", &s.key[s.key.len() - 4..]));
    assert!(app["created_at"].as_i64().unwrap() > 1_700_000_000, "{app}");
    assert!(app["last_used"].is_null(), "never used yet: {app}");

    // A request with one key dates its last use (shipped by the data plane with its usage); the
    // other stays unused; the request log names the key.
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(eventually(Duration::from_secs(5), || chat(&gw, &s.key).status == 200).is_some());
    let used = || {
        let keys = cp.admin("GET", &path, None).json()["api_keys"].clone();
        let app = keys
            .as_array()?
            .iter()
            .find(|k| k["name"] == "app")?
            .clone();
        let batch = keys
            .as_array()?
            .iter()
            .find(|k| k["name"] == "batch")?
            .clone();
        Some((app["last_used"].as_i64()?, batch["last_used"].clone()))
    };
    assert!(
        eventually(Duration::from_secs(10), || used().is_some()).is_some(),
        "last_used is set: {}",
        cp.admin("GET", &path, None).text()
    );
    let (at, batch_used) = used().unwrap();
    assert!(at >= before - 1 && at <= before + 60, "{at} vs {before}");
    assert!(batch_used.is_null(), "{batch_used}");
    let log = cp.admin(
        "GET",
        &format!("/admin/v1/requests?project={}", s.project),
        None,
    );
    assert_eq!(
        log.json()["requests"][0]["api_key"],
        s.key_id.as_str(),
        "{}",
        log.text()
    );

    // A deleted key leaves the list; another project's keys are never in it.
    let deleted = cp.admin("DELETE", &format!("/admin/v1/api-keys/{}", s.key_id), None);
    assert_eq!(deleted.status, 204);
    let other = setup(&cp, "globex");
    let after = cp.admin("GET", &path, None).json();
    let after = after["api_keys"].as_array().unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["name"], "batch");
    assert_ne!(after[0]["id"], other.key_id.as_str());
    let unknown = cp.admin("GET", "/admin/v1/projects/prj_nope/api-keys", None);
    assert_eq!(unknown.status, 404);
}
