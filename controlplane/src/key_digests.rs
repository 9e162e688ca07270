//! Keyed digests of Warden API keys. The store keeps HMAC-SHA256(K, SHA-256(key)) for each key,
//! K being the 32 bytes of `data_dir/api-key-digest.key` (0600, made at first start), so a copy
//! of the database alone gives no way to test guesses of a key. K does not depend on the master
//! key: rotating the master key re-seals K in the next snapshot and leaves every digest as it is.
//!
//! Snapshots carry the stored digests unchanged and K sealed under the current master key
//! (`MasterKey::seal_secret`), so a data plane opens K with the master key it already holds and
//! a snapshot file, or a snapshot read off the control link, still gives nothing to test guesses
//! against without that master key.

use std::path::Path;

use warden_shared::vault::{MasterKey, SealedKey};
use warden_shared::{api_key_hash, ApiKeyDigester, API_KEY_DIGEST_LABEL};
use zeroize::Zeroizing;

pub struct KeyDigests {
    secret: Zeroizing<[u8; 32]>,
    digester: ApiKeyDigester,
}

impl KeyDigests {
    /// Read the secret file, creating it (32 random bytes, 0600) on first start.
    pub fn load_or_create(path: &Path) -> anyhow::Result<KeyDigests> {
        let bytes = crate::secrets::ensure_file(path, || {
            Ok(Zeroizing::new(
                crate::secrets::random_bytes::<32>()?.to_vec(),
            ))
        })?;
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()))?;
        Ok(KeyDigests {
            digester: ApiKeyDigester::new(&secret),
            secret: Zeroizing::new(secret),
        })
    }

    /// The digest the store keeps for `key`.
    pub fn of_key(&self, key: &[u8]) -> [u8; 32] {
        self.of_plain(&api_key_hash(key))
    }

    /// The keyed form of a plain SHA-256 digest (what an older store kept).
    pub fn of_plain(&self, sha256: &[u8; 32]) -> [u8; 32] {
        self.digester.digest(sha256)
    }

    /// The secret sealed for a snapshot under `master`.
    pub fn sealed(&self, master: &MasterKey) -> anyhow::Result<SealedKey> {
        master
            .seal_secret(API_KEY_DIGEST_LABEL, &self.secret[..])
            .map_err(|e| anyhow::anyhow!("sealing the API-key digest secret: {e}"))
    }
}
