//! warden-shared: what the control plane and the data plane must agree on.
//!
//! - [`catalog`]: providers, their wire dialects and default base URLs, and the model aliases.
//! - [`snapshot`]: the rkyv snapshot the data plane serves from (pushed by the control plane or
//!   compiled from a standalone TOML file by [`standalone`]).
//! - [`vault`]: the AES-256-GCM envelope that keeps provider keys sealed until one request opens them.
//! - [`signing`]: the Ed25519 envelope that lets a data plane trust only its control plane's snapshots.
//!
//! Nothing here does I/O on the request path, and nothing here depends on an async runtime.

pub mod audit;
pub mod catalog;
pub mod date;
pub mod logs;
pub mod money;
pub mod patterns;
pub mod signing;
pub mod snapshot;
pub mod standalone;
pub mod vault;

use sha2::{Digest, Sha256};

/// Hash of a Warden API key as stored in snapshots. Keys are 256-bit random strings, so a plain
/// SHA-256 is a sound index: there is nothing to brute-force, and the key itself is never stored.
pub fn api_key_hash(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// A display-safe fingerprint of a secret: `sha256:` and the first 12 hex digits of its digest.
/// It identifies a key in listings, logs and audit records without revealing any of it.
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let mut out = String::with_capacity(19);
    out.push_str("sha256:");
    for b in &digest[..6] {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Create (or truncate) a file only its owner may read or write: snapshots, audit segments and
/// anything else that names tenants or holds key material.
pub fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_short() {
        let f = fingerprint(b"sk-test-openai");
        assert!(f.starts_with("sha256:"));
        assert_eq!(f.len(), 19);
        assert_eq!(f, fingerprint(b"sk-test-openai"));
        assert_ne!(f, fingerprint(b"sk-test-openai2"));
    }
}
