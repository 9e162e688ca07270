//! The serving state shards answer from: a snapshot turned into lookup tables.
//!
//! Built once per snapshot, off the shards (at start, and on the control link's thread when a
//! new snapshot arrives), as one `SharedState` that every shard reads through an `Arc`; a shard
//! takes a new one by swapping a pointer (`ServingState`: the shared state and the shard's own
//! Hyperscan scratch, held in an `Rc`), so nothing is rebuilt per shard. A request keeps the
//! state it started with. When the last holder of an old state lets go, its tables are freed on
//! a reaper thread, not on the shard that happened to hold it last (a million keys' worth of
//! frees would stall that shard's requests). Lookups are hash or bucket hits; each distinct
//! `/v1/models` body is rendered once per snapshot, not per request or per project.

mod keys;
mod reaper;

mod build;
mod delta;

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use warden_shared::catalog::{ModelKind, Provider};
use warden_shared::snapshot::{
    BillingRates, Environment, GuardrailPolicy, KeyMode, Limits, ProviderKey, Routing, Snapshot,
};
use warden_shared::vault::Keyring;

use crate::guard::custom::{compile_all, CustomScan, CustomSet, CustomSets, ScratchOwner};
use crate::upstream::origin::Origin;
use keys::key_table;
use keys::ByDigest;
pub use keys::{ApiKeyRef, KeyTable};

/// What a full snapshot serves: built once per full snapshot and kept by every state a delta
/// makes of it (`state/delta.rs`), which adds its changes beside it rather than copying it.
pub struct Base {
    /// The full snapshot's version (what a delta names as its base).
    pub full_version: u64,
    /// Its Warden keys (and its project ids' indexes).
    api_keys: KeyTable,
    /// The secret the snapshot's API-key digests are keyed with (sealed in the snapshot under a
    /// master key); `None`: plain SHA-256 digests.
    api_key_secret: Option<warden_shared::ApiKeyDigester>,
    /// Its projects, by index (a delta's state starts from a copy of these pointers).
    full_projects: Vec<Arc<ProjectState>>,
    models: HashMap<Box<str>, RouteTarget>,
    /// Route groups: name → the alias per tier, cheapest first.
    groups: HashMap<Box<str>, [Box<str>; 4]>,
    /// Indexed by `Provider::index`.
    pub origins: Vec<Origin>,
    /// What usage costs (for spend limits).
    pub billing: BillingRates,
    /// The operator's pooled keys (sealed), in priority order, with their labels.
    pub pooled_keys: Vec<ProviderKey>,
    pub pooled_labels: Vec<(Arc<str>, Arc<str>)>,
    /// `/v1/models` bodies by the set of providers a project reaches (`Provider::index` bits).
    models_bodies: Vec<Arc<[u8]>>,
}

/// What one snapshot serves, shared by every shard: a full snapshot's [`Base`] (read through
/// `Deref`) and, for a delta, what changed since it.
pub struct SharedState {
    pub version: u64,
    base: Arc<Base>,
    /// By index: the base's projects with the delta's changes in place and its new ones after.
    pub projects: Vec<Arc<ProjectState>>,
    /// Opens sealed provider keys for one request at a time.
    pub master: Arc<Keyring>,
    /// Warden keys added since the base: digest → (id, project index).
    added_keys: HashMap<[u8; 32], (Box<str>, u32), ByDigest>,
    /// Digests of the base's keys that are gone.
    removed_keys: HashSet<[u8; 32], ByDigest>,
    /// Indexes of the base's projects that are gone: their keys do not authenticate.
    gone: HashSet<u32>,
}

impl std::ops::Deref for SharedState {
    type Target = Base;

    fn deref(&self) -> &Base {
        &self.base
    }
}

/// A shard's copy of phone plans, by the shared plans' address and `phone_standalone`.
type PlansKey = (usize, Option<bool>);

/// A shard's view: the shared state and the shard's own scratch for the projects' custom
/// patterns. Reads of the shared state go through `Deref`.
pub struct ServingState {
    shared: Arc<SharedState>,
    custom_scratch: Option<hyperscan::Scratch>,
    /// This shard's copies of the projects' own phone plans, made on first use (a regex's
    /// cache is per thread: shards sharing one would meet at its lock), by the shared plans'
    /// address (0: the data plane's) and the project's `phone_standalone`.
    phones: std::cell::RefCell<HashMap<PlansKey, Arc<crate::guard::pii::Plans>>>,
}

/// A shared state ready to hand to shards, with a scratch that fits every custom pattern set
/// (each shard takes a clone).
#[derive(Clone)]
pub struct Built {
    pub shared: Arc<SharedState>,
    scratch: Option<hyperscan::Scratch>,
}

impl Built {
    /// One shard's serving state: a clone of the shared pointer and of the scratch.
    /// (`hs_clone_scratch` fails only where an allocation does, which aborts anyway.)
    pub fn for_shard(&self) -> ServingState {
        ServingState {
            shared: Arc::clone(&self.shared),
            custom_scratch: self.scratch.clone(),
            phones: Default::default(),
        }
    }
}

impl std::ops::Deref for ServingState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.shared
    }
}

/// Whose key served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The tenant's own key.
    Byok,
    /// The operator's pooled key.
    Pooled,
}

impl KeySource {
    pub fn name(self) -> &'static str {
        match self {
            KeySource::Byok => "byok",
            KeySource::Pooled => "pooled",
        }
    }
}

/// A key a request may use, with its label and source.
#[derive(Clone, Copy)]
pub struct KeyRef<'s> {
    pub key: &'s ProviderKey,
    /// (id, fingerprint), shared with audit entries.
    pub label: &'s (Arc<str>, Arc<str>),
    pub source: KeySource,
}

pub struct ProjectState {
    pub id: Arc<str>,
    pub tenant: Arc<str>,
    pub environment: Environment,
    /// Sealed; in priority order.
    pub provider_keys: Vec<ProviderKey>,
    /// Each key's id and fingerprint, shared with audit entries.
    pub key_labels: Vec<(Arc<str>, Arc<str>)>,
    pub guardrails: GuardrailPolicy,
    /// Which key sources serve this project (a developer-plan tenant's: pooled only).
    pub routing: Routing,
    pub limits: Limits,
    /// The answer cache's policy (`cache.rs`).
    pub cache: warden_shared::snapshot::CachePolicy,
    /// Shared by every shard (see `limits`).
    pub counters: Arc<crate::limits::Counters>,
    /// The operator's own detectors, compiled.
    pub custom: Option<Arc<CustomSet>>,
    /// The numbering plans of the project's own phone regions (`None`: the data plane's).
    pub phones: Option<Arc<crate::guard::pii::Plans>>,
    /// Its `phone_standalone` (`None`: the data plane's).
    pub phone_standalone: Option<bool>,
    /// The `/v1/models` answer for keys of this project (shared by every project that can
    /// reach the same providers).
    pub models_json: Arc<[u8]>,
    /// The providers it reaches by its own keys or pooled ones (`Provider::index` bits).
    pub reach: u8,
}

pub struct RouteTarget {
    pub alias: Arc<str>,
    pub provider: Provider,
    /// Which route serves it: chat, or `/v1/embeddings`.
    pub kind: ModelKind,
    pub upstream_model: Arc<str>,
    /// Aliases tried when every key of this one has failed.
    pub fallbacks: Vec<Box<str>>,
}

impl ScratchOwner for ServingState {
    fn custom_scratch(&self) -> Option<&hyperscan::Scratch> {
        self.custom_scratch.as_ref()
    }
}

impl ServingState {
    /// One shard's state built here, compiling the projects' custom patterns too (tests and
    /// `check --config`).
    pub fn build(snapshot: Snapshot, master: Arc<Keyring>) -> Result<ServingState, String> {
        let custom = compile_all(&snapshot)?;
        Ok(SharedState::build(snapshot, master, &custom)?.for_shard())
    }

    /// The project's own phone plans, this shard's copy (`None`: it names no regions and no
    /// `phone_standalone` other than the data plane's, so the data plane's plans hold).
    pub fn phones_for(
        &self,
        project: &ProjectState,
        engine: &crate::guard::engine::Engine,
    ) -> Option<Arc<crate::guard::pii::Plans>> {
        let shared = project.phones.as_deref();
        let standalone = project.phone_standalone;
        if shared.is_none() && engine.phones_as_configured(standalone) {
            return None;
        }
        let at = (
            shared.map_or(0, |p| std::ptr::from_ref(p) as usize),
            standalone,
        );
        let mut copies = self.phones.borrow_mut();
        Some(Arc::clone(copies.entry(at).or_insert_with(|| {
            Arc::new(engine.local_plans(shared, standalone))
        })))
    }

    /// The project's operator-defined patterns with this shard's scratch for them, for one
    /// request (`None`: the project has none).
    pub fn custom_scan(self: &Rc<Self>, project: &ProjectState) -> Option<CustomScan> {
        let set = project.custom.as_ref()?;
        Some(CustomScan::new(
            Arc::clone(set),
            Rc::clone(self) as Rc<dyn ScratchOwner>,
        ))
    }
}

impl SharedState {
    /// Build from a validated snapshot, with its projects' custom patterns already compiled
    /// (`custom` follows `snapshot.projects`). Takes the snapshot apart rather than copying it.
    pub fn build(
        mut snapshot: Snapshot,
        master: Arc<Keyring>,
        custom: &CustomSets,
    ) -> Result<Built, String> {
        let entries = std::mem::take(&mut snapshot.api_keys);
        let keys = key_table(
            &snapshot.projects,
            entries
                .iter()
                .map(|k| (k.hash, k.id.as_str(), k.project.as_str())),
        )?;
        // The decoded entries (two strings each) are freed off the apply's critical path.
        reaper::free(entries);
        SharedState::build_with_keys(snapshot, keys, master, custom)
    }

    /// The projects whose cached answers this state no longer serves, compared with `old` (the
    /// state it replaces), for each shard to sweep once it has swapped (`Cache::sweep`):
    /// `(project, None)` drops every entry (the project is gone or stopped caching),
    /// `(project, Some(g))` those of generations but `g` (its cache was purged). Worked out once,
    /// off the shards; a scan of the projects' pointers, with a map of the cached ones only.
    pub fn cache_sweep(&self, old: &SharedState) -> Vec<(Arc<str>, Option<u32>)> {
        let now: HashMap<&str, u32> = self
            .caching_projects()
            .map(|p| (&*p.id, p.cache.generation))
            .collect();
        old.caching_projects()
            .filter_map(|p| match now.get(&*p.id) {
                None => Some((Arc::clone(&p.id), None)),
                Some(&g) if g != p.cache.generation => Some((Arc::clone(&p.id), Some(g))),
                Some(_) => None,
            })
            .collect()
    }

    /// The projects this state serves whose cache is on.
    fn caching_projects(&self) -> impl Iterator<Item = &Arc<ProjectState>> {
        self.projects.iter().enumerate().filter_map(|(i, p)| {
            let gone = u32::try_from(i).is_ok_and(|i| self.gone.contains(&i));
            (!gone && p.cache.mode != warden_shared::snapshot::CacheMode::Off).then_some(p)
        })
    }

    /// How many Warden keys this state authenticates (the base's, give or take the delta's).
    pub fn api_key_count(&self) -> usize {
        (self.api_keys.len() + self.added_keys.len()).saturating_sub(self.removed_keys.len())
    }

    /// The heap bytes of the Warden-key table.
    pub fn api_key_bytes(&self) -> usize {
        self.api_keys.heap_bytes()
    }

    /// The keys that may serve `project`'s requests to `provider`, in the order to try them:
    /// the project's own (priority order), then the operator's pooled ones, as its routing says.
    pub fn keys_for<'s>(
        &'s self,
        project: &'s ProjectState,
        provider: Provider,
        out: &mut Vec<KeyRef<'s>>,
    ) {
        let mode = project.routing.mode(provider);
        if mode != KeyMode::PooledOnly {
            for (key, label) in project.provider_keys.iter().zip(&project.key_labels) {
                if key.provider == provider {
                    out.push(KeyRef {
                        key,
                        label,
                        source: KeySource::Byok,
                    });
                }
            }
        }
        if mode != KeyMode::ByokOnly {
            for (key, label) in self.pooled_keys.iter().zip(&self.pooled_labels) {
                if key.provider == provider {
                    out.push(KeyRef {
                        key,
                        label,
                        source: KeySource::Pooled,
                    });
                }
            }
        }
    }

    /// The key a presented Warden key names, if any: looked up by its digest.
    pub fn api_key(&self, presented: &[u8]) -> Option<ApiKeyRef<'_>> {
        let hash = warden_shared::api_key_hash(presented);
        let digest = match &self.api_key_secret {
            Some(digester) => digester.digest(&hash),
            None => hash,
        };
        // A full snapshot's state has no changes: one table lookup, no hashing of the digest.
        let added = (!self.added_keys.is_empty())
            .then(|| self.added_keys.get(&digest))
            .flatten();
        let found = match added {
            Some((id, project)) => ApiKeyRef {
                id,
                project: *project as usize,
            },
            None if !self.removed_keys.is_empty() && self.removed_keys.contains(&digest) => {
                return None
            }
            None => self.api_keys.get(&digest)?,
        };
        if !self.gone.is_empty() && self.gone.contains(&(found.project as u32)) {
            return None;
        }
        Some(found)
    }

    pub fn route(&self, alias: &str) -> Option<&RouteTarget> {
        self.models.get(alias)
    }

    /// Every alias of the catalog, in no order.
    pub fn models(&self) -> impl Iterator<Item = &RouteTarget> {
        self.models.values()
    }

    /// The project at `index` (an [`ApiKeyRef`]'s), unless a delta removed it.
    pub fn project_at(&self, index: usize) -> Option<&ProjectState> {
        let gone = u32::try_from(index).is_ok_and(|i| self.gone.contains(&i));
        self.projects.get(index).filter(|_| !gone).map(|p| &**p)
    }

    /// A route group's aliases per tier.
    pub fn group(&self, name: &str) -> Option<&[Box<str>; 4]> {
        self.groups.get(name)
    }

    /// The route for `tier` of a group: that tier's model if the project has a key for its
    /// provider, else the nearest tier above, then below, that it can serve.
    pub fn tier_route(
        &self,
        project: &ProjectState,
        tiers: &[Box<str>; 4],
        tier: usize,
    ) -> Option<&RouteTarget> {
        let order = (tier..4).chain((0..tier).rev());
        let mut keys = Vec::new();
        let mut first = None;
        for t in order {
            let Some(route) = self.route(&tiers[t]) else {
                continue;
            };
            first.get_or_insert(route);
            keys.clear();
            self.keys_for(project, route.provider, &mut keys);
            if !keys.is_empty() {
                return Some(route);
            }
        }
        first
    }

    /// Whether `name` is an upstream model the catalog routes to `provider`.
    pub fn is_upstream_model(&self, provider: Provider, name: &str) -> bool {
        self.models
            .values()
            .any(|m| m.provider == provider && *m.upstream_model == *name)
    }

    pub fn origin(&self, provider: Provider) -> &Origin {
        &self.origins[provider.index()]
    }
}

/// Validate and decode pushed snapshot bytes: the snapshot, and its Warden keys as the table
/// the serving state keeps (made from their archived form, with no string per key).
pub fn decode(bytes: &[u8]) -> Result<(Snapshot, KeyTable), String> {
    let (snapshot, keys) = warden_shared::snapshot::decode_keys_with(bytes, |s, keys| {
        key_table(
            &s.projects,
            keys.iter()
                .map(|k| (k.hash, k.id.as_str(), k.project.as_str())),
        )
    })
    .map_err(|e| e.to_string())?;
    Ok((snapshot, keys?))
}

/// Which providers `keys` reach, one bit per `Provider::index`.
fn providers_of(keys: &[ProviderKey]) -> u8 {
    keys.iter()
        .fold(0, |mask, k| mask | 1 << k.provider.index())
}

impl Drop for SharedState {
    fn drop(&mut self) {
        reaper::free((
            std::mem::take(&mut self.projects),
            std::mem::take(&mut self.added_keys),
        ));
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        reaper::free((
            std::mem::take(&mut self.full_projects),
            std::mem::take(&mut self.api_keys),
        ));
    }
}

#[cfg(test)]
pub mod tests;
