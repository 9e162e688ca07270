//! Signed snapshots: the control plane signs every snapshot it builds with an Ed25519 key kept
//! in its `data_dir`; a data plane pins the public key (`snapshot_public_key_file`) and serves
//! nothing it cannot verify — neither a push nor its own last good file at boot. Holding the
//! data-plane token is then not enough to point a tenant's keys at another host.
//!
//! ```text
//! envelope  "WDNSIG02" | signature [64] | payload (the rkyv snapshot)
//! signed    "warden snapshot v2\0" ‖ SHA-256(payload)   (domain-separated: the key signs nothing else)
//! delta     "WDNDLT01" | signature [64] | payload (an rkyv `Delta`)
//! signed    "warden snapshot delta v1\0" ‖ SHA-256(payload)
//! bundle    "WDNBDL01" | full envelope length [8, LE] | full envelope | delta envelope
//!           (not signed itself: each part is; a data plane behind the base takes both at once)
//! key files snapshot-signing.key: the 32-byte seed (0600); snapshot-signing.pub: 64 hex digits
//! ```
//!
//! Version 2 signs the payload's SHA-256 rather than the payload: Ed25519 hashes its message
//! with SHA-512, which ran at about 375 MB/s here (a 99 MB snapshot of a million keys took 263 ms
//! to check, plus a copy of it), where SHA-256 runs on the CPU's SHA extensions where it has them.
//! Version 1 envelopes (`"WDNSIG01"`, the whole payload signed after `"warden snapshot v1\0"`) are
//! still opened, so that a last good snapshot written before an upgrade still boots.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

pub const MAGIC: &[u8; 8] = b"WDNSIG02";
const DOMAIN: &[u8] = b"warden snapshot v2\0";
const MAGIC_V1: &[u8; 8] = b"WDNSIG01";
const DOMAIN_V1: &[u8] = b"warden snapshot v1\0";
/// Delta snapshots (`snapshot::Delta`), under a domain of their own: a delta never opens as a
/// full snapshot, nor a full snapshot as a delta.
pub const MAGIC_DELTA: &[u8; 8] = b"WDNDLT01";
const DOMAIN_DELTA: &[u8] = b"warden snapshot delta v1\0";
const HEADER: usize = 8 + 64;

/// Why signed bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// Not a signed envelope at all (an unsigned snapshot, or something else).
    NotSigned,
    /// The signature does not verify against the pinned key.
    Invalid,
    /// A public key file that does not hold an Ed25519 key.
    BadKey(String),
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::NotSigned => f.write_str("the snapshot is not signed"),
            SignatureError::Invalid => f.write_str(
                "the snapshot's signature does not verify against the pinned public key",
            ),
            SignatureError::BadKey(why) => write!(f, "not an Ed25519 public key: {why}"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// A signing key from its 32-byte seed.
pub struct Signer32(SigningKey);

impl Signer32 {
    pub fn from_seed(seed: &[u8]) -> Option<Signer32> {
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.try_into().ok()?);
        Some(Signer32(SigningKey::from_bytes(&seed)))
    }

    /// The public key, as `snapshot-signing.pub` holds it (64 hex digits and a newline).
    pub fn public_key_file(&self) -> String {
        let mut out = String::with_capacity(65);
        for b in self.0.verifying_key().as_bytes() {
            out.push_str(&format!("{b:02x}"));
        }
        out.push('\n');
        out
    }

    /// The public key that opens what this signs.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The signed envelope around `payload`.
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        self.envelope(MAGIC, DOMAIN, payload)
    }

    /// The signed envelope around a delta's `payload`.
    pub fn sign_delta(&self, payload: &[u8]) -> Vec<u8> {
        self.envelope(MAGIC_DELTA, DOMAIN_DELTA, payload)
    }

    fn envelope(&self, magic: &[u8; 8], domain: &[u8], payload: &[u8]) -> Vec<u8> {
        let signature = self.0.sign(&message(domain, payload));
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(magic);
        out.extend_from_slice(&signature.to_bytes());
        out.extend_from_slice(payload);
        out
    }
}

/// A pinned public key, read from `snapshot-signing.pub` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_file_text(text: &str) -> Result<PublicKey, SignatureError> {
        let hex = text.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SignatureError::BadKey("expected 64 hex digits".into()));
        }
        let mut key = [0u8; 32];
        for (i, out) in key.iter_mut().enumerate() {
            *out = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|e| SignatureError::BadKey(e.to_string()))?;
        }
        VerifyingKey::from_bytes(&key)
            .map(PublicKey)
            .map_err(|e| SignatureError::BadKey(e.to_string()))
    }

    /// The payload of a signed envelope, once its signature verifies.
    pub fn open<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], SignatureError> {
        if bytes.len() < HEADER {
            return Err(SignatureError::NotSigned);
        }
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&bytes[8..HEADER]);
        let payload = &bytes[HEADER..];
        let signed = match &bytes[..8] {
            m if m == MAGIC => message(DOMAIN, payload),
            m if m == MAGIC_V1 => [DOMAIN_V1, payload].concat(),
            _ => return Err(SignatureError::NotSigned),
        };
        self.0
            .verify_strict(&signed, &Signature::from_bytes(&sig))
            .map(|()| payload)
            .map_err(|_| SignatureError::Invalid)
    }

    /// The payload of a signed delta envelope, once its signature verifies.
    pub fn open_delta<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], SignatureError> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC_DELTA {
            return Err(SignatureError::NotSigned);
        }
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&bytes[8..HEADER]);
        let payload = &bytes[HEADER..];
        self.0
            .verify_strict(
                &message(DOMAIN_DELTA, payload),
                &Signature::from_bytes(&sig),
            )
            .map(|()| payload)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// A full snapshot and a delta of it, pushed as one body so that a data plane behind the base
/// swaps to the delta's state at once, never serving the base on its own in between (it would
/// let keys the delta removed back in for a moment).
pub const MAGIC_BUNDLE: &[u8; 8] = b"WDNBDL01";

/// What goes before the full envelope in a bundle: the label and the full envelope's length.
pub fn bundle_head(full_len: usize) -> [u8; 16] {
    let mut head = [0u8; 16];
    head[..8].copy_from_slice(MAGIC_BUNDLE);
    head[8..].copy_from_slice(&(full_len as u64).to_le_bytes());
    head
}

/// A bundle's full envelope and delta envelope (unverified; each is opened on its own).
pub fn split_bundle(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = bytes.strip_prefix(MAGIC_BUNDLE)?;
    let (len, rest) = rest.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    (len <= rest.len()).then(|| rest.split_at(len))
}

/// Whether `bytes` are a delta envelope (by its label only: nothing is verified).
pub fn is_delta(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC_DELTA)
}

/// What an envelope's key signs: the domain, then the payload's SHA-256.
fn message(domain: &[u8], payload: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut out = Vec::with_capacity(domain.len() + 32);
    out.extend_from_slice(domain);
    out.extend_from_slice(&sha2::Sha256::digest(payload));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(seed: u8) -> Signer32 {
        Signer32::from_seed(&[seed; 32])
            .unwrap_or_else(|| Signer32(SigningKey::from_bytes(&[0; 32])))
    }

    #[test]
    fn only_the_pinned_key_opens_and_any_change_is_refused() {
        let (ours, theirs) = (signer(1), signer(2));
        let key = PublicKey::from_file_text(&ours.public_key_file());
        assert!(key.is_ok());
        let Ok(key) = key else { return };
        let signed = ours.sign(b"snapshot bytes");
        assert_eq!(key.open(&signed), Ok(&b"snapshot bytes"[..]));
        assert_eq!(
            key.open(&theirs.sign(b"snapshot bytes")),
            Err(SignatureError::Invalid)
        );
        for at in [0, 8, 40, HEADER, signed.len() - 1] {
            let mut bad = signed.clone();
            bad[at] ^= 1;
            assert!(key.open(&bad).is_err(), "byte {at}");
        }
        assert_eq!(key.open(b"snapshot bytes"), Err(SignatureError::NotSigned));
        let mut longer = signed.clone();
        longer.push(0);
        assert_eq!(key.open(&longer), Err(SignatureError::Invalid));
    }

    #[test]
    fn a_version_1_envelope_still_opens_and_cannot_pass_for_version_2() {
        let ours = signer(4);
        let key = PublicKey::from_file_text(&ours.public_key_file());
        let Ok(key) = key else { panic!("key") };
        let payload = b"an older control plane's snapshot";
        let signature = ours.0.sign(&[DOMAIN_V1, &payload[..]].concat());
        let v1 = [&MAGIC_V1[..], &signature.to_bytes(), payload].concat();
        assert_eq!(key.open(&v1), Ok(&payload[..]));
        // The same signature under the other label, and a v2 signature labelled v1: refused.
        let relabelled = [&MAGIC[..], &v1[8..]].concat();
        assert_eq!(key.open(&relabelled), Err(SignatureError::Invalid));
        let v2 = ours.sign(payload);
        let downgraded = [&MAGIC_V1[..], &v2[8..]].concat();
        assert_eq!(key.open(&downgraded), Err(SignatureError::Invalid));
        let unknown = [&b"WDNSIG03"[..], &v2[8..]].concat();
        assert_eq!(key.open(&unknown), Err(SignatureError::NotSigned));
    }

    #[test]
    fn a_delta_opens_only_as_a_delta_and_a_full_snapshot_only_as_one() {
        let ours = signer(5);
        let Ok(key) = PublicKey::from_file_text(&ours.public_key_file()) else {
            panic!("key")
        };
        let payload = b"delta bytes";
        let delta = ours.sign_delta(payload);
        let full = ours.sign(payload);
        assert!(is_delta(&delta) && !is_delta(&full));
        assert_eq!(key.open_delta(&delta), Ok(&payload[..]));
        assert_eq!(key.open(&delta), Err(SignatureError::NotSigned));
        assert_eq!(key.open_delta(&full), Err(SignatureError::NotSigned));
        // Relabelled either way, the signature no longer verifies.
        let as_full = [&MAGIC[..], &delta[8..]].concat();
        assert_eq!(key.open(&as_full), Err(SignatureError::Invalid));
        let as_delta = [&MAGIC_DELTA[..], &full[8..]].concat();
        assert_eq!(key.open_delta(&as_delta), Err(SignatureError::Invalid));
        assert_eq!(
            key.open_delta(&signer(6).sign_delta(payload)),
            Err(SignatureError::Invalid)
        );
        let mut bad = delta.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(key.open_delta(&bad), Err(SignatureError::Invalid));
    }

    #[test]
    fn a_bundle_splits_into_its_two_envelopes_and_a_short_one_does_not() {
        let ours = signer(7);
        let (full, delta) = (ours.sign(b"full"), ours.sign_delta(b"delta"));
        let bundle = [&bundle_head(full.len())[..], &full, &delta].concat();
        assert_eq!(split_bundle(&bundle), Some((&full[..], &delta[..])));
        assert_eq!(split_bundle(&bundle[..20]), None);
        assert_eq!(split_bundle(&full), None);
        let lying = [&bundle_head(usize::MAX)[..], &full].concat();
        assert_eq!(split_bundle(&lying), None);
    }

    #[test]
    fn public_key_files_are_checked() {
        assert!(PublicKey::from_file_text("").is_err());
        assert!(PublicKey::from_file_text(&"zz".repeat(32)).is_err());
        assert!(PublicKey::from_file_text(&"ab".repeat(31)).is_err());
        assert!(Signer32::from_seed(&[1; 31]).is_none());
        let text = signer(3).public_key_file();
        assert_eq!(text.len(), 65);
        assert!(PublicKey::from_file_text(&text).is_ok());
    }
}
