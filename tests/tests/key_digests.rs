//! Snapshots carry keyed digests of Warden keys (HMAC-SHA256 under a secret derived from the
//! master key), not their plain SHA-256: a snapshot file, or a snapshot read off the control
//! link, gives no way to test guesses of a key without the master key. Keys still authenticate.

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

    // Under a control plane: the store keeps SHA-256, what it pushes is keyed.
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
