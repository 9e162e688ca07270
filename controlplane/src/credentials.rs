//! Per-data-plane credentials. A data plane enrols once with the shared enrolment token
//! (`data_dir/dataplane-token`) and receives a credential bound to its id; from then on it
//! registers, ships usage and receives snapshot pushes with that credential alone, so holding
//! the enrolment token no longer lets anyone take over an enrolled id, read the snapshots pushed
//! to it, or post usage, rows or a cursor in its name.
//!
//! A credential is `wdc_` + hex(HMAC-SHA256(K, "warden dataplane credential v1" ‖ id ‖ 0 ‖
//! generation)), K being the 32 bytes of `data_dir/dataplane-credential.key` (0600, made at first
//! start). Nothing is stored but the generation: the control plane recomputes a credential to
//! check one or to present it on a push, and enrolling again (after an operator revoked the id)
//! moves to the next generation, which kills every credential issued before.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secrets::constant_time_eq;

pub struct Credentials {
    key: Zeroizing<Vec<u8>>,
}

impl Credentials {
    pub fn new(key: Zeroizing<Vec<u8>>) -> Credentials {
        Credentials { key }
    }

    /// Read the key file, creating it (32 random bytes, 0600) on first start.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Credentials> {
        let key = crate::secrets::ensure_file(path, || {
            Ok(Zeroizing::new(
                crate::secrets::random_bytes::<32>()?.to_vec(),
            ))
        })?;
        anyhow::ensure!(
            key.len() == 32,
            "{} must hold exactly 32 bytes",
            path.display()
        );
        Ok(Credentials::new(key))
    }

    /// The credential of data plane `id` at `generation`.
    pub fn issue(&self, id: &str, generation: i64) -> Zeroizing<String> {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return Zeroizing::new(String::new());
        };
        mac.update(b"warden dataplane credential v1");
        mac.update(id.as_bytes());
        mac.update(&[0]);
        mac.update(&generation.to_le_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = Zeroizing::new(String::with_capacity(68));
        out.push_str("wdc_");
        for b in tag {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Whether `presented` is `id`'s credential at `generation` (constant time).
    pub fn check(&self, id: &str, generation: i64, presented: &str) -> bool {
        generation > 0
            && constant_time_eq(self.issue(id, generation).as_bytes(), presented.as_bytes())
    }
}
