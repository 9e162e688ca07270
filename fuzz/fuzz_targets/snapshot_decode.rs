//! Snapshot bytes as they reach a data plane (a push, or the last good file): the signature
//! check and the rkyv validation refuse what they must and never panic; a signed envelope with
//! a forged signature is always refused.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_shared::signing::{PublicKey, Signer32};

fn keys() -> &'static (Signer32, PublicKey) {
    static KEYS: OnceLock<(Signer32, PublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signer = Signer32::from_seed(&[7u8; 32]).expect("seed");
        let public = PublicKey::from_file_text(&signer.public_key_file()).expect("public key");
        (signer, public)
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = warden_shared::snapshot::decode(data);
    let (signer, public) = keys();
    // Whatever opens is decoded, as a push would be.
    if let Ok(payload) = public.open(data) {
        let _ = warden_shared::snapshot::decode(payload);
    }
    // A correctly signed envelope of arbitrary bytes opens to exactly those bytes (signing is
    // slow: one input in eight).
    if data.first().is_some_and(|b| b % 8 == 0) {
        let signed = signer.sign(data);
        assert_eq!(public.open(&signed).ok(), Some(data));
    }
});
