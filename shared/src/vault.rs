//! The key vault envelope: AES-256-GCM with a random 96-bit nonce per key, and associated data
//! that binds each ciphertext to its tenant, project, provider and key id.
//!
//! Invariants: plaintext keys only ever live in [`Zeroizing`] buffers; a ciphertext copied to
//! another row (other tenant, project, provider or id) fails to open; the format carries a version
//! byte and the master-key id so keys can be re-wrapped under a new master key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rkyv::{Archive, Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::catalog::Provider;

/// Current envelope format.
pub const ENVELOPE_VERSION: u8 = 1;

/// A 256-bit master key. Dropping it wipes it.
pub struct MasterKey {
    id: u32,
    key: Zeroizing<[u8; 32]>,
}

/// Where a sealed provider key belongs. Every field goes into the associated data.
#[derive(Debug, Clone, Copy)]
pub struct KeyScope<'a> {
    pub tenant: &'a str,
    pub project: &'a str,
    pub provider: Provider,
    pub key_id: &'a str,
}

/// A provider key as stored and shipped: ciphertext only.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    pub version: u8,
    pub master_key_id: u32,
    pub nonce: [u8; 12],
    /// Ciphertext followed by the 16-byte GCM tag.
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum VaultError {
    /// The nonce source failed; nothing was sealed.
    Random,
    /// Wrong master key, wrong scope, tampered bytes or an unknown version. Deliberately one case:
    /// the caller learns nothing about which.
    Open,
    /// A master key of the wrong size.
    KeySize,
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VaultError::Random => "the system random source failed",
            VaultError::Open => "sealed key does not open with this master key and scope",
            VaultError::KeySize => "master key must be exactly 32 bytes",
        })
    }
}

impl std::error::Error for VaultError {}

impl MasterKey {
    pub fn from_bytes(id: u32, bytes: &[u8]) -> Result<MasterKey, VaultError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::KeySize)?;
        Ok(MasterKey {
            id,
            key: Zeroizing::new(key),
        })
    }

    /// A master key whose id is derived from the key itself (the first four bytes of its
    /// SHA-256), so every process holding the same key file agrees on the id without storing it.
    pub fn from_key_file_bytes(bytes: &[u8]) -> Result<MasterKey, VaultError> {
        use sha2::{Digest, Sha256};
        let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::KeySize)?;
        let digest = Sha256::digest(key);
        let id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        Ok(MasterKey {
            id,
            key: Zeroizing::new(key),
        })
    }

    /// A fresh random key (a standalone data plane seals its configured keys under one of these,
    /// so they are never held in memory as plaintext between requests).
    pub fn generate(id: u32) -> Result<MasterKey, VaultError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|_| VaultError::Random)?;
        Ok(MasterKey { id, key })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// A secret for one purpose, derived from this key: HMAC-SHA256(key, label). The key itself
    /// only ever seals provider keys.
    pub fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        use hmac::{Hmac, Mac};
        let mut out = Zeroizing::new([0u8; 32]);
        if let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key[..]) {
            mac.update(label);
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    pub fn seal(&self, scope: KeyScope<'_>, plaintext: &[u8]) -> Result<SealedKey, VaultError> {
        self.seal_with(&associated_data(self.id, scope), plaintext)
    }

    /// Seal a secret that belongs to no tenant (the control plane's API-key digest secret, say)
    /// under this key. `label` names its purpose and goes into the associated data, apart from
    /// every provider-key scope, so neither kind of ciphertext opens as the other.
    pub fn seal_secret(&self, label: &[u8], plaintext: &[u8]) -> Result<SealedKey, VaultError> {
        self.seal_with(&secret_associated_data(self.id, label), plaintext)
    }

    /// Open what [`MasterKey::seal_secret`] sealed with the same `label`.
    pub fn open_secret(
        &self,
        label: &[u8],
        sealed: &SealedKey,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.open_with(&secret_associated_data(self.id, label), sealed)
    }

    fn seal_with(&self, aad: &[u8], plaintext: &[u8]) -> Result<SealedKey, VaultError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let ciphertext = self
            .cipher()?
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| VaultError::Open)?;
        Ok(SealedKey {
            version: ENVELOPE_VERSION,
            master_key_id: self.id,
            nonce,
            ciphertext,
        })
    }

    pub fn open(
        &self,
        scope: KeyScope<'_>,
        sealed: &SealedKey,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.open_with(&associated_data(self.id, scope), sealed)
    }

    fn open_with(&self, aad: &[u8], sealed: &SealedKey) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if sealed.version != ENVELOPE_VERSION || sealed.master_key_id != self.id {
            return Err(VaultError::Open);
        }
        self.cipher()?
            .decrypt(
                &Nonce::from(sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Open)
    }

    fn cipher(&self) -> Result<Aes256Gcm, VaultError> {
        Aes256Gcm::new_from_slice(self.key.as_ref()).map_err(|_| VaultError::KeySize)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Length-prefixed fields so that no two scopes serialise to the same bytes.
/// The master keys a process can open sealed keys with: the current one and, during a
/// rotation, the previous one. Sealed keys name the master key they were sealed under.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(keys: Vec<MasterKey>) -> Keyring {
        Keyring { keys }
    }

    /// The key new seals use (the first).
    pub fn current(&self) -> Option<&MasterKey> {
        self.keys.first()
    }

    pub fn has(&self, id: u32) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// A secret derived from master key `id` for one purpose (`label`), if this ring holds it.
    pub fn derive(&self, id: u32, label: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.derive(label))
    }

    pub fn open(
        &self,
        scope: KeyScope<'_>,
        sealed: &SealedKey,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.key_for(sealed)?.open(scope, sealed)
    }

    /// [`MasterKey::open_secret`] with the master key the envelope names.
    pub fn open_secret(
        &self,
        label: &[u8],
        sealed: &SealedKey,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.key_for(sealed)?.open_secret(label, sealed)
    }

    fn key_for(&self, sealed: &SealedKey) -> Result<&MasterKey, VaultError> {
        self.keys
            .iter()
            .find(|k| k.id == sealed.master_key_id)
            .ok_or(VaultError::Open)
    }
}

/// What [`Keyring::open_secret`] and [`MasterKey::seal_secret`] bind a secret to: its own
/// prefix, so no provider-key scope serialises to the same bytes.
fn secret_associated_data(master_key_id: u32, label: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(24 + label.len());
    aad.extend_from_slice(b"warden-secret");
    aad.push(ENVELOPE_VERSION);
    aad.extend_from_slice(&master_key_id.to_be_bytes());
    aad.extend_from_slice(&(label.len() as u32).to_be_bytes());
    aad.extend_from_slice(label);
    aad
}

fn associated_data(master_key_id: u32, scope: KeyScope<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(b"warden-provider-key");
    aad.push(ENVELOPE_VERSION);
    aad.extend_from_slice(&master_key_id.to_be_bytes());
    for part in [
        scope.tenant,
        scope.project,
        scope.provider.name(),
        scope.key_id,
    ] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(project: &'a str) -> KeyScope<'a> {
        KeyScope {
            tenant: "acme",
            project,
            provider: Provider::OpenAi,
            key_id: "pk_1",
        }
    }

    #[test]
    fn seal_then_open_round_trips() -> Result<(), VaultError> {
        let master = MasterKey::generate(1)?;
        let sealed = master.seal(scope("prod"), b"sk-secret")?;
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(
            master.open(scope("prod"), &sealed)?.as_slice(),
            b"sk-secret"
        );
        Ok(())
    }

    #[test]
    fn ciphertext_moved_to_another_scope_or_key_does_not_open() -> Result<(), VaultError> {
        let master = MasterKey::generate(1)?;
        let sealed = master.seal(scope("prod"), b"sk-secret")?;
        assert_eq!(
            master.open(scope("staging"), &sealed),
            Err(VaultError::Open)
        );
        let other = MasterKey::generate(1)?;
        assert_eq!(other.open(scope("prod"), &sealed), Err(VaultError::Open));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(master.open(scope("prod"), &tampered), Err(VaultError::Open));
        Ok(())
    }

    #[test]
    fn secrets_open_only_under_their_label_and_never_as_provider_keys() -> Result<(), VaultError> {
        let master = MasterKey::generate(7)?;
        let sealed = master.seal_secret(b"digest v1", b"0123456789abcdef")?;
        assert_eq!(
            Keyring::new(vec![MasterKey::generate(3)?, master])
                .open_secret(b"digest v1", &sealed)?
                .as_slice(),
            b"0123456789abcdef"
        );
        let master = MasterKey::from_bytes(7, &[9; 32])?;
        let sealed = master.seal_secret(b"digest v1", b"s")?;
        assert_eq!(
            master.open_secret(b"digest v2", &sealed),
            Err(VaultError::Open)
        );
        assert_eq!(master.open(scope("prod"), &sealed), Err(VaultError::Open));
        let key = master.seal(scope("prod"), b"sk-secret")?;
        assert_eq!(master.open_secret(b"", &key), Err(VaultError::Open));
        Ok(())
    }

    #[test]
    fn nonces_are_fresh() -> Result<(), VaultError> {
        let master = MasterKey::generate(1)?;
        let a = master.seal(scope("prod"), b"k")?;
        let b = master.seal(scope("prod"), b"k")?;
        assert_ne!(a.nonce, b.nonce);
        Ok(())
    }
}
