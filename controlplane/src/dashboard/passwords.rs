//! Dashboard passwords. Hashes are Argon2id with RFC 9106's second recommended setting (19 MiB,
//! two passes, one lane) and a 16-byte random salt, stored with the parameters they were made
//! with — `argon2id$v=19$m=19456,t=2,p=1$<salt hex>$<tag hex>` — so a stronger setting later
//! still verifies the older hashes. Stored parameters are bounded before use: a hash edited in
//! the store cannot make a sign-in allocate gigabytes.
//!
//! Passwords Warden makes (the first operator's, invited users') are 20 characters of a
//! 32-letter alphabet without look-alikes: 100 bits.

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::secrets::{constant_time_eq, hex, random_bytes, unhex};

const M_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// The most a stored hash may ask for.
const MAX_M_KIB: u32 = 262_144;
const MAX_PASSES: u32 = 10;
const MAX_LANES: u32 = 8;
/// Letters and digits a person reads back without mistaking one for another (no l, o, 0, 1).
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A new random password.
pub fn generate() -> anyhow::Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(random_bytes::<20>()?);
    Ok(Zeroizing::new(
        bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect(),
    ))
}

/// The stored form of `password`. Takes tens of milliseconds: call it off the runtime's workers.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = random_bytes::<16>()?;
    let tag = derive(password, &salt, M_KIB, PASSES, LANES)?;
    Ok(format!(
        "argon2id$v=19$m={M_KIB},t={PASSES},p={LANES}${}${}",
        hex(&salt),
        hex(tag.as_ref())
    ))
}

/// Whether `password` is the one `stored` was made from (false for anything malformed).
pub fn verify(password: &str, stored: &str) -> bool {
    let Some((m, t, p, salt, tag)) = parse(stored) else {
        return false;
    };
    derive(password, &salt, m, t, p).is_ok_and(|mine| constant_time_eq(mine.as_ref(), &tag))
}

/// A stored hash's parts: memory (KiB), passes, lanes, salt, tag.
type Parts = (u32, u32, u32, Vec<u8>, Vec<u8>);

fn parse(stored: &str) -> Option<Parts> {
    let mut parts = stored.split('$');
    if (parts.next()?, parts.next()?) != ("argon2id", "v=19") {
        return None;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in parts.next()?.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let (m, t, p) = (m?, t?, p?);
    if m > MAX_M_KIB || t > MAX_PASSES || p > MAX_LANES {
        return None;
    }
    let salt = unhex(parts.next()?)?;
    let tag = unhex(parts.next()?)?;
    if parts.next().is_some() || tag.len() != 32 {
        return None;
    }
    Some((m, t, p, salt, tag))
}

fn derive(
    password: &str,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let params = Params::new(m, t, p, Some(32)).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, out.as_mut())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_alone_and_malformed_ones_verify_nothing() {
        let pw = generate().unwrap_or_default();
        assert_eq!(pw.len(), 20);
        assert!(pw.bytes().all(|b| ALPHABET.contains(&b)));
        let stored = hash(&pw).unwrap_or_default();
        assert!(stored.starts_with("argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&pw, &stored));
        assert!(!verify("wrong", &stored));
        assert_ne!(hash(&pw).unwrap_or_default(), stored, "a salt of its own");
        // The reference implementation's own example (its README: `echo -n password | argon2
        // somesalt -id -t 2 -m 16 -p 1`, 2^16 KiB), in our encoding.
        let known = "argon2id$v=19$m=65536,t=2,p=1$736f6d6573616c74$\
                     09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7";
        assert!(verify("password", known));
        for bad in [
            "",
            "argon2i$v=19$m=19456,t=2,p=1$00$00",
            "argon2id$v=19$m=4194304,t=2,p=1$736f6d6573616c74$00",
            &stored[..stored.len() - 2],
            &format!("{stored}$x"),
        ] {
            assert!(!verify(&pw, bad), "{bad}");
        }
    }
}
