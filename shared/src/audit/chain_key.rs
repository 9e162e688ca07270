//! The audit chain's key: HMAC-SHA256 under a key derived from a data plane's 32-byte audit key
//! file, and the id that names it in segment headers (see the format in `audit.rs`).

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The key a data plane chains its audit records with: HMAC-SHA256 under a key derived from the
/// 32 secret bytes of its audit key file (domain-separated, so the file's bytes are never the MAC
/// key itself), and an 8-byte id that names it in segment headers.
#[derive(Clone)]
pub struct ChainKey {
    /// HMAC state with the key already absorbed: each record's MAC clones it instead of
    /// hashing the padded key twice again (a quarter of the drain's chain cost).
    keyed: Hmac<Sha256>,
    id: [u8; 8],
}

impl ChainKey {
    pub fn from_secret(secret: &[u8; 32]) -> ChainKey {
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&hmac256(secret, &[b"warden audit chain v1"]));
        let digest = Sha256::digest([b"warden audit key id v1".as_slice(), &key[..]].concat());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        let keyed = match <Hmac<Sha256> as Mac>::new_from_slice(&key[..]) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        ChainKey { keyed, id }
    }

    /// Read a 32-byte audit key file.
    pub fn from_file(path: &Path) -> Result<ChainKey, String> {
        let bytes = Zeroizing::new(
            std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?,
        );
        let secret: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "{}: an audit key file holds exactly 32 bytes, this one {}",
                path.display(),
                bytes.len()
            )
        })?;
        Ok(ChainKey::from_secret(secret))
    }

    pub fn id(&self) -> [u8; 8] {
        self.id
    }

    /// The MAC of `parts`, in order, under this key.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Hex of the key id, as `audit verify` prints it.
    pub fn id_hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn hmac256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}
