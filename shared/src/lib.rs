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
pub mod phones;
pub mod signing;
pub mod snapshot;
pub mod standalone;
pub mod telemetry;
pub mod vault;

use sha2::{Digest, Sha256};

/// SHA-256 of a Warden API key: what [`api_key_digest`] keys (nothing stores it bare).
pub fn api_key_hash(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// The purpose label of the API-key digest secret: what a standalone data plane derives it with
/// (`MasterKey::derive`) and what snapshots seal it under (`MasterKey::seal_secret`).
pub const API_KEY_DIGEST_LABEL: &[u8] = b"warden api-key digest v1";

/// The keyed digest the control plane's store and every snapshot keep for a Warden key:
/// HMAC-SHA256(secret, SHA-256(key)). The secret is the control plane's own (or, standalone,
/// derived from the master key) and travels sealed under a master key, so neither the store nor
/// a snapshot file gives a way to test guesses of a key without it.
pub fn api_key_digest(secret: &[u8; 32], key_hash: &[u8; 32]) -> [u8; 32] {
    ApiKeyDigester::new(secret).digest(key_hash)
}

/// [`api_key_digest`] with the secret absorbed once: what a data plane keeps per snapshot, so a
/// request's lookup costs one HMAC state copy and two blocks, not the key schedule again.
#[derive(Clone)]
pub struct ApiKeyDigester(hmac::Hmac<Sha256>);

impl ApiKeyDigester {
    pub fn new(secret: &[u8; 32]) -> ApiKeyDigester {
        use hmac::Mac;
        match <hmac::Hmac<Sha256> as Mac>::new_from_slice(secret) {
            Ok(mac) => ApiKeyDigester(mac),
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    pub fn digest(&self, key_hash: &[u8; 32]) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(key_hash);
        mac.finalize().into_bytes().into()
    }
}

/// The host of a `host:port` authority, IPv6 brackets removed: the name a TLS client verifies.
pub fn authority_host(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

#[cfg(test)]
mod authority_tests {
    #[test]
    fn hosts_of_authorities() {
        for (authority, host) in [
            ("cp.example.com:8443", "cp.example.com"),
            ("cp.example.com", "cp.example.com"),
            ("127.0.0.1:9090", "127.0.0.1"),
            ("[::1]:9090", "::1"),
            ("[fe80::1]", "fe80::1"),
        ] {
            assert_eq!(super::authority_host(authority), host);
        }
    }
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
