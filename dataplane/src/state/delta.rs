//! Applying a delta snapshot (`warden_shared::snapshot::Delta`): a new shared state made of the
//! held state's [`Base`] — its key table, models, origins, the base's projects — and the delta's
//! changes beside it. Nothing of the base is copied but its projects' pointers (one `Arc` per
//! project), so applying a change to a million keys costs what the change costs, not what the
//! million do. A delta is cumulative since its base, so it is applied to the base, never on top
//! of the delta before it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use warden_shared::snapshot::Delta;
use warden_shared::vault::Keyring;

use super::build::{developers, Reach};
use super::keys::ByDigest;
use super::{reaper, Built, SharedState};
use crate::guard::custom::CustomSet;

impl SharedState {
    /// The state `delta` makes of the base `held` was built on, with a scratch that fits every
    /// custom pattern set it holds. Refused: a delta of another base, a key naming a project
    /// neither has, a pattern that does not compile.
    pub fn apply_delta(held: &Built, delta: Delta, master: Arc<Keyring>) -> Result<Built, String> {
        let base = Arc::clone(&held.shared.base);
        if delta.base != base.full_version {
            return Err(format!(
                "the delta applies to version {}, this data plane's base is {}",
                delta.base, base.full_version
            ));
        }
        if delta.version <= delta.base {
            return Err(format!(
                "delta version {} is not past its base {}",
                delta.version, delta.base
            ));
        }
        let mut scratch = held.scratch.clone();
        let developers = developers(&delta.tenants);
        let reach = Reach {
            pooled: super::providers_of(&base.pooled_keys),
            bodies: &base.models_bodies,
            version: delta.version,
            phones: Default::default(),
        };
        let mut projects = base.full_projects.clone();
        // Projects the base does not have, by id, at their index after the base's.
        let mut new_at: HashMap<String, u32> = HashMap::new();
        let mut present = HashSet::with_capacity(delta.projects.len());
        for p in delta.projects {
            let custom = if p.custom_patterns.is_empty() {
                None
            } else {
                let set = CustomSet::compile(&p.custom_patterns)
                    .map_err(|e| format!("project {}: {e}", p.id))?;
                set.fit_scratch(&mut scratch)?;
                Some(Arc::new(set))
            };
            let developer = developers.contains(p.tenant.as_str());
            let at = base
                .api_keys
                .project(&p.id)
                .or_else(|| new_at.get(&p.id).copied());
            let id = p.id.clone();
            let state = Arc::new(reach.project(p, custom, developer));
            let at = match at.and_then(|i| projects.get_mut(i as usize).map(|slot| (i, slot))) {
                Some((i, slot)) => {
                    *slot = state;
                    i
                }
                None => {
                    let i = u32::try_from(projects.len())
                        .map_err(|_| "more projects than this data plane indexes".to_owned())?;
                    projects.push(state);
                    new_at.insert(id, i);
                    i
                }
            };
            present.insert(at);
        }
        let gone: HashSet<u32> = delta
            .removed_projects
            .iter()
            .filter_map(|id| base.api_keys.project(id))
            .filter(|i| !present.contains(i))
            .collect();
        let mut added_keys =
            HashMap::with_capacity_and_hasher(delta.api_keys.len(), ByDigest::default());
        for k in delta.api_keys {
            let project = base
                .api_keys
                .project(&k.project)
                .or_else(|| new_at.get(&k.project).copied())
                .ok_or_else(|| format!("api key {} names unknown project {}", k.id, k.project))?;
            added_keys.insert(k.hash, (k.id.into_boxed_str(), project));
        }
        let removed_keys: HashSet<[u8; 32], ByDigest> = delta.removed_keys.into_iter().collect();
        reaper::start();
        Ok(Built {
            shared: Arc::new(SharedState {
                version: delta.version,
                base,
                projects,
                master,
                added_keys,
                removed_keys,
                gone,
            }),
            scratch,
        })
    }

    /// The version of the full snapshot this state is built on.
    pub fn base_version(&self) -> u64 {
        self.base.full_version
    }

    /// How many changes since its base this state carries (0 for a full snapshot's).
    pub fn delta_rows(&self) -> usize {
        self.added_keys.len() + self.removed_keys.len() + self.gone.len()
    }
}
