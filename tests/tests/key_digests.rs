//! Warden keys are kept as keyed digests (HMAC-SHA256 of their SHA-256), never as the key or its
//! plain SHA-256: in the control plane's store (keyed with `data_dir/api-key-digest.key`) and in
//! every snapshot (that secret sealed under the master key; standalone, derived from it). A copy
//! of the database, a snapshot file or a snapshot read off the control link gives no way to test
//! guesses of a key. Keys still authenticate, and an older store's plain digests are converted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sha2::{Digest, Sha256};
use warden_tests::http::post_json;
use warden_tests::{chat_body, config, eventually, ControlPlane, Driver, Gateway, Mock, KEY};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn snapshots_hold_keyed_digests_and_keys_still_authenticate() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    assert_eq!(gw.chat(&chat_body("gpt-4o", "hi", false)).status, 200);
    let wrong = post_json(
        gw.addr,
        "/v1/chat/completions",
        "wdn_not_a_key_0123456789",
        &chat_body("gpt-4o", "hi", false),
    );
    assert_eq!(wrong.status, 401);
    let file = std::fs::read(gw.dir.0.join("state").join("snapshot.rkyv")).unwrap();
    let plain: [u8; 32] = Sha256::digest(KEY.as_bytes()).into();
    assert!(
        !contains(&file, &plain),
        "the key's plain SHA-256 is not in the snapshot file"
    );

    // Under a control plane: what it pushes is keyed too.
    let cp = ControlPlane::start(mock.addr);
    let (_, key) = cp.project_with_keys("sk-digest-test-4321");
    let managed = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let ok = eventually(Duration::from_secs(10), || {
        post_json(
            managed.addr,
            "/v1/chat/completions",
            &key,
            &chat_body("gpt-4o", "hi", false),
        )
        .status
            == 200
    });
    assert!(ok.is_some(), "{}", managed.proc.stderr());
    let pushed = std::fs::read(managed.dir.0.join("state").join("snapshot.rkyv")).unwrap();
    let plain: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    assert!(!contains(&pushed, &plain));
}

/// What the control plane's store holds for each key, with the digests Python's hashlib and
/// hmac modules compute: (stored hex, plain SHA-256 hex, HMAC under the secret file hex, keyed,
/// id).
fn stored_digests(cp: &ControlPlane, key: &str) -> Vec<(String, String, String, i64, String)> {
    let script = format!(
        "import hashlib, hmac\n\
         secret = open('{dir}/api-key-digest.key', 'rb').read()\n\
         plain = hashlib.sha256(b'{key}').digest()\n\
         print(plain.hex(), hmac.new(secret, plain, 'sha256').hexdigest())",
        dir = cp.data_dir().display()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digests = String::from_utf8(out.stdout).unwrap();
    let (plain, keyed) = digests.trim().split_once(' ').unwrap();
    cp.sql("SELECT key_hash, keyed, id FROM api_keys")
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (
                f[0].into(),
                plain.into(),
                keyed.into(),
                f[1].parse().unwrap(),
                f[2].into(),
            )
        })
        .collect()
}

fn authenticates(gw: &Gateway, key: &str) -> bool {
    eventually(Duration::from_secs(10), || {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            key,
            &chat_body("gpt-4o", "hi", false),
        )
        .status
            == 200
    })
    .is_some()
}

#[test]
fn the_store_keeps_keyed_digests_and_converts_an_older_stores_plain_ones() {
    use std::os::unix::fs::PermissionsExt;
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let (_, key) = cp.project_with_keys("sk-digest-store-8765");
    let secret = cp.data_dir().join("api-key-digest.key");
    assert_eq!(std::fs::read(&secret).unwrap().len(), 32);
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let rows = stored_digests(&cp, &key);
    assert_eq!(rows.len(), 1);
    let (stored, plain, keyed, flag, id) = &rows[0];
    assert_ne!(stored, plain, "the store does not keep the plain SHA-256");
    assert_eq!(
        stored, keyed,
        "it keeps HMAC-SHA256(api-key-digest.key, SHA-256(key))"
    );
    assert_eq!(*flag, 1);
    assert!(
        !plain.starts_with(&id[4..]) && !stored.starts_with(&id[4..]),
        "the id {id} is no prefix of either digest"
    );

    // A store written by an older control plane: plain SHA-256, not keyed. The next start keys
    // it, and the key goes on authenticating.
    let dir = cp.stop();
    warden_tests::store_sql(
        &dir,
        &format!("UPDATE api_keys SET key_hash = '{plain}', keyed = 0"),
    );
    let cp = ControlPlane::start_in(dir, mock.addr);
    let rows = stored_digests(&cp, &key);
    assert_eq!(
        (&rows[0].0, rows[0].3),
        (&rows[0].2, 1),
        "converted at start"
    );
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    assert!(authenticates(&gw, &key), "{}", gw.proc.stderr());
}
