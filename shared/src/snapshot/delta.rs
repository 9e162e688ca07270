//! Delta snapshots: what changed since a full snapshot, so that a change to one key does not
//! ship (and make every data plane check and decode) the whole table of a million.
//!
//! A delta is **cumulative**: it carries every tenant-, project- and key-level change since its
//! base full snapshot, not since the previous delta. A data plane that holds the base applies
//! any later delta of it directly (no chain to replay, none to lose), and keeps the base and the
//! newest delta as its last good state. Anything else — providers, models, route groups, prices,
//! pooled keys, the digest secret — changes only with a new full snapshot; so does a delta
//! grown past a fraction of its base (the control plane decides, `controlplane/src/snapshot`).
//!
//! Deltas are signed under their own domain (`signing.rs`): one cannot pass for a full snapshot
//! or the other way round.

use rkyv::rancor::Error as RkyvError;
use rkyv::{Archive, Deserialize, Serialize};

use super::{ApiKeyEntry, Project, SnapshotError, Tenant};

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Delta {
    /// The full snapshot's version this applies to.
    pub base: u64,
    /// The version served once applied (greater than `base`).
    pub version: u64,
    /// The tenant of every project in `projects` (its plan decides the project's routing).
    pub tenants: Vec<Tenant>,
    /// Projects added or changed since `base` (with their provider keys), whole; a project of a
    /// tenant whose plan changed is here too.
    pub projects: Vec<Project>,
    /// Projects of `base` that are gone (their keys no longer authenticate).
    pub removed_projects: Vec<String>,
    /// Warden keys added since `base` (or whose digest changed).
    pub api_keys: Vec<ApiKeyEntry>,
    /// Digests of `base`'s Warden keys that are gone.
    pub removed_keys: Vec<[u8; 32]>,
}

impl Delta {
    /// Rows it carries (what the control plane weighs against a new full snapshot).
    pub fn rows(&self) -> usize {
        self.projects.len()
            + self.removed_projects.len()
            + self.api_keys.len()
            + self.removed_keys.len()
    }

    /// Every master-key id its sealed provider keys need.
    pub fn master_key_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .projects
            .iter()
            .flat_map(|p| p.provider_keys.iter())
            .map(|k| k.sealed.master_key_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Serialise a delta for the wire or for disk.
pub fn encode_delta(delta: &Delta) -> Result<Vec<u8>, SnapshotError> {
    rkyv::to_bytes::<RkyvError>(delta)
        .map(|bytes| bytes.into_vec())
        .map_err(|e| SnapshotError(e.to_string()))
}

/// Validate (bytecheck) and deserialise delta bytes from any source.
pub fn decode_delta(bytes: &[u8]) -> Result<Delta, SnapshotError> {
    rkyv::from_bytes::<Delta, RkyvError>(&super::aligned(bytes))
        .map_err(|e| SnapshotError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_round_trips_and_corrupt_bytes_are_refused() -> Result<(), SnapshotError> {
        let d = Delta {
            base: 3,
            version: 9,
            tenants: vec![Tenant {
                id: "t".into(),
                plan: super::super::Plan::Team,
            }],
            projects: Vec::new(),
            removed_projects: vec!["gone".into()],
            api_keys: vec![ApiKeyEntry {
                id: "key_1".into(),
                hash: [1; 32],
                project: "p".into(),
            }],
            removed_keys: vec![[2; 32]],
        };
        let bytes = encode_delta(&d)?;
        assert_eq!(decode_delta(&bytes)?, d);
        assert_eq!(d.rows(), 3);
        assert!(decode_delta(&bytes[..bytes.len() - 3]).is_err());
        // A full snapshot's bytes are not a delta.
        assert!(decode_delta(&[0u8; 7]).is_err());
        Ok(())
    }
}
