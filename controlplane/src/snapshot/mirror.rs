//! The leader's copy of the rows snapshots are built from (tenants, projects, provider keys,
//! Warden keys), parsed once and brought up to date before each build by reading only the rows
//! stamped since (`store/rows.rs`). At a million keys a whole read took 5–7 s of every build;
//! a build after one change now reads that change. The first build after a start reads
//! everything once.
//!
//! It also keeps what changed since the last full snapshot it built (the data planes' base):
//! the next build ships those rows as a delta (`snapshot::Delta`) rather than everything, unless
//! something only a full snapshot carries changed or the delta has grown past a fraction of the
//! whole (see [`Mirror::delta`]).

use std::collections::{HashMap, HashSet};

use warden_shared::catalog::ModelRoute;
use warden_shared::snapshot::{
    ApiKeyEntry, BillingRates, Delta, Plan, Project, ProviderEndpoint, ProviderKey, RouteGroup,
    Snapshot, Tenant,
};

use super::table::Table;
use crate::store::rows::Stamps;
use crate::store::{ProviderKeyRow, Store};

/// What orders a provider key among its project's (or the pool's) keys: priority, then age,
/// then id.
type Order = (i64, i64, String);
type Ordered = (Order, ProviderKey);

/// What only a full snapshot carries: a delta is built only while these are what the base had.
#[derive(Clone, PartialEq, Debug)]
pub struct Globals {
    pub providers: Vec<ProviderEndpoint>,
    pub models: Vec<ModelRoute>,
    pub route_groups: Vec<RouteGroup>,
    pub billing: BillingRates,
    pub pooled_keys: Vec<ProviderKey>,
    /// The master key the digest secret is sealed under.
    pub master_key_id: u32,
}

/// What changed since the base: what the next delta carries. Off (nothing kept) while there is
/// no base: the next snapshot is full anyway, and a first read of a million rows need not copy
/// every id into it.
#[derive(Default)]
struct Since {
    on: bool,
    /// Tenants whose row changed (their projects go out again: the plan decides routing).
    tenants: HashSet<String>,
    projects: HashSet<String>,
    removed_projects: HashSet<String>,
    /// Warden keys added or changed, by id.
    keys: HashSet<String>,
    /// Digests no longer valid (removed keys, or a key's digest before it changed).
    removed_keys: HashSet<[u8; 32]>,
}

impl Since {
    fn key(&mut self, id: &str) {
        if self.on {
            self.keys.insert(id.to_owned());
        }
    }

    fn key_removed(&mut self, id: &str, digest: [u8; 32]) {
        self.keys.remove(id);
        if self.on {
            self.removed_keys.insert(digest);
        }
    }

    fn project(&mut self, id: &str) {
        if self.on {
            self.removed_projects.remove(id);
            self.projects.insert(id.to_owned());
        }
    }

    fn project_removed(&mut self, id: &str) {
        self.projects.remove(id);
        if self.on {
            self.removed_projects.insert(id.to_owned());
        }
    }

    fn tenant(&mut self, id: &str) {
        if self.on {
            self.tenants.insert(id.to_owned());
        }
    }
}

/// A delta is built while it carries at most this many rows, or a sixteenth of the base's
/// projects and keys if that is more; past it the next snapshot is full (and a data plane's
/// apply, which costs what the delta holds, stays a small fraction of a full one's).
const DELTA_MIN_ROWS: usize = 4096;

#[derive(Default)]
pub struct Mirror {
    /// Every row stamped up to this is here; `None`: nothing read yet.
    seq: Option<i64>,
    tenants: HashMap<String, Plan>,
    /// With their provider keys in order; the month's spend is set at each build.
    projects: Table<Project>,
    /// Which project (`None`: the pool) each provider key belongs to, and its order there.
    key_owner: HashMap<String, (Option<String>, Order)>,
    pooled: Vec<Ordered>,
    api_keys: Table<ApiKeyEntry>,
    /// The last full snapshot built from this mirror (its version, and what only a full
    /// snapshot carries), and what changed since.
    base: Option<(u64, Globals)>,
    since: Since,
}

/// What a snapshot takes from the mirror. `projects` and `api_keys` are lent: hand them back
/// with [`Mirror::give_back`] once the snapshot is encoded.
pub struct Parts {
    pub tenants: Vec<Tenant>,
    pub projects: Vec<Project>,
    pub pooled_keys: Vec<ProviderKey>,
    pub api_keys: Vec<ApiKeyEntry>,
}

impl Mirror {
    /// Read what was stamped since the last refresh. On an error, what was applied stays and the
    /// same rows are read again next time (applying a row twice changes nothing).
    pub async fn refresh(&mut self, store: &Store) -> anyhow::Result<()> {
        self.check(store).await?;
        let upto = store.row_seq().await?;
        if self.seq == Some(upto) {
            return Ok(());
        }
        let s = Stamps {
            after: self.seq.unwrap_or(-1),
            upto,
        };
        let mut steps = super::Steps::new();
        // Removals first: a row present now is the truth about its id.
        let removals = store.removed_stamped(s).await?;
        for (table, id) in removals {
            match table.as_str() {
                "api_keys" => {
                    if let Some(gone) = self.api_keys.remove(&id) {
                        self.since.key_removed(&id, gone.hash);
                    }
                }
                "provider_keys" => self.remove_provider_key(&id),
                "projects" => {
                    drop(self.projects.remove(&id));
                    self.since.project_removed(&id);
                }
                "tenants" => {
                    self.tenants.remove(&id);
                    self.since.tenant(&id);
                }
                _ => {}
            }
        }
        steps.mark("removals");
        for (id, plan) in store.tenants_stamped(s).await? {
            self.since.tenant(&id);
            self.tenants.insert(id, super::parse_plan(&plan)?);
        }
        steps.mark("tenants");
        let mut policies = super::parse::Policies::default();
        for row in store.projects_stamped(s).await? {
            let mut fresh = policies.project(row)?;
            if let Some(old) = self.projects.get_mut(&fresh.id) {
                fresh.provider_keys = std::mem::take(&mut old.provider_keys);
                // The month's spend is set at each build (`set_spend`): kept meanwhile.
                fresh.limits.spent = old.limits.spent;
                fresh.limits.spent_month = old.limits.spent_month;
            }
            self.since.project(&fresh.id);
            self.projects.upsert(fresh);
        }
        steps.mark("projects");
        for row in store.provider_keys_stamped(s).await? {
            self.remove_provider_key(&row.id);
            let key = super::sealed_key(&row)?;
            let ProviderKeyRow {
                id,
                project_id,
                priority,
                created_at,
                ..
            } = row;
            let order = (priority, created_at, id.clone());
            self.key_owner
                .insert(id, (project_id.clone(), order.clone()));
            match &project_id {
                Some(p) => {
                    self.since.project(p);
                    if let Some(project) = self.projects.get_mut(p) {
                        project.provider_keys.push(key);
                        let owners = &self.key_owner;
                        let order_of = |k: &ProviderKey| owners.get(&k.id).map(|o| o.1.clone());
                        project.provider_keys.sort_by_key(order_of);
                    }
                }
                None => {
                    self.pooled.push((order, key));
                    self.pooled.sort_by(|a, b| a.0.cmp(&b.0));
                }
            }
        }
        steps.mark("provider keys");
        let keys = store.api_keys_stamped(s).await?;
        steps.mark("key rows");
        let many = keys.len() > 4096 && keys.len() > self.api_keys.rows.len() / 16;
        if many {
            // About as many changed keys as a delta may hold (`delta`): the next snapshot is full,
            // and nothing need be kept for a delta.
            self.forget_base();
            // Room made once, not by doubling a million rows and their index as they come.
            self.api_keys.reserve(keys.len());
        }
        // Keyed in the store already (`key_digests.rs`); they go out as they are. They come
        // grouped by project (`api_keys_stamped`), and new ones are added in that order: keys of
        // one project in a run, as a data plane looks each project up once per run
        // (`dataplane/src/state.rs`; a tenth of the lookups at ten keys a project).
        for (id, project, hash) in keys {
            self.since.key(&id);
            let old = self.api_keys.upsert(ApiKeyEntry { id, hash, project });
            if let Some(old) = old.filter(|old| old.hash != hash) {
                self.since.key_removed(&old.id, old.hash);
                self.since.key(&old.id);
            }
        }
        steps.mark("keys");
        tracing::debug!(after = s.after, upto, steps = %steps.done(), "rows read");
        self.seq = Some(upto);
        Ok(())
    }

    /// Empty the mirror if it can no longer be brought up to date: its rows were lent out and
    /// never given back (a build failed after taking them), or removals it has not read were
    /// pruned meanwhile (another control plane led and saved a newer base).
    pub async fn check(&mut self, store: &Store) -> anyhow::Result<()> {
        if !self.projects.whole() || !self.api_keys.whole() {
            *self = Mirror::default();
        }
        if let Some(held) = self.seq {
            if held < store.removed_floor().await? {
                *self = Mirror::default();
            }
        }
        Ok(())
    }

    /// Whether nothing has been read yet (a resume from a saved base may fill it).
    pub fn is_empty(&self) -> bool {
        self.seq.is_none()
    }

    /// The stamp every row here is read up to.
    pub fn seq(&self) -> Option<i64> {
        self.seq
    }

    /// A mirror of the rows full snapshot `base` was built from, read up to stamp `seq`, with
    /// `ages` the creation times of its provider keys in its order ([`Mirror::ages`]); it is
    /// the base of the deltas built from it. `None` when the ages do not fit the snapshot.
    pub fn resume(base: Snapshot, seq: i64, ages: &[i64]) -> Option<Mirror> {
        let master_key_id = base.api_key_digest_secret.as_ref()?.master_key_id;
        let mut ages = ages.iter().copied();
        let mut key_owner = HashMap::new();
        let mut order = |project: Option<&String>, k: &ProviderKey, age: Option<i64>| {
            let order = (i64::from(k.priority), age?, k.id.clone());
            key_owner.insert(k.id.clone(), (project.cloned(), order.clone()));
            Some(order)
        };
        for p in &base.projects {
            for k in &p.provider_keys {
                order(Some(&p.id), k, ages.next())?;
            }
        }
        let mut pooled = Vec::with_capacity(base.pooled_keys.len());
        for k in &base.pooled_keys {
            pooled.push((order(None, k, ages.next())?, k.clone()));
        }
        if ages.next().is_some() {
            return None;
        }
        let globals = Globals {
            providers: base.providers,
            models: base.models,
            route_groups: base.route_groups,
            billing: base.billing,
            pooled_keys: base.pooled_keys,
            master_key_id,
        };
        let mut mirror = Mirror {
            seq: Some(seq),
            tenants: base.tenants.into_iter().map(|t| (t.id, t.plan)).collect(),
            projects: Table::indexed(base.projects),
            key_owner,
            pooled,
            api_keys: Table::indexed(base.api_keys),
            base: None,
            since: Since::default(),
        };
        mirror.based_on(base.version, globals);
        Some(mirror)
    }

    /// The creation times of the provider keys, in the order a full snapshot built now holds
    /// them (each project's keys, then the pooled ones): saved with it, for [`Mirror::resume`].
    pub fn ages(&self) -> Vec<i64> {
        let age = |id: &str| self.key_owner.get(id).map_or(0, |o| o.1 .1);
        self.projects
            .rows
            .iter()
            .flat_map(|p| p.provider_keys.iter().map(|k| age(&k.id)))
            .chain(self.pooled.iter().map(|(o, _)| o.1))
            .collect()
    }

    fn remove_provider_key(&mut self, id: &str) {
        match self.key_owner.remove(id).map(|o| o.0) {
            Some(Some(project)) => {
                if let Some(p) = self.projects.get_mut(&project) {
                    p.provider_keys.retain(|k| k.id != id);
                }
                self.since.project(&project);
            }
            Some(None) => self.pooled.retain(|(_, k)| k.id != id),
            None => {}
        }
    }

    /// Set this month's spend on the projects (`spend`: the month's first day and each
    /// project's spend so far); a project whose spend moved goes out in the next delta.
    pub fn set_spend(&mut self, spend: &(i64, HashMap<String, u64>)) {
        for p in &mut self.projects.rows {
            let spent = spend.1.get(&p.id).copied().unwrap_or(0);
            if (p.limits.spent, p.limits.spent_month) != (spent, spend.0) {
                p.limits.spent = spent;
                p.limits.spent_month = spend.0;
                self.since.project(&p.id);
            }
        }
    }

    /// The delta from the base to now, as version `version`; `None` when the next snapshot
    /// must be full: no base (nothing built yet, or the mirror was read anew), `globals` are
    /// not the base's, or the changes outgrew [`DELTA_MIN_ROWS`] and a sixteenth of the whole.
    pub fn delta(&self, globals: &Globals, version: u64) -> Option<Delta> {
        let (base, base_globals) = self.base.as_ref()?;
        if base_globals != globals {
            return None;
        }
        let since = &self.since;
        let mut projects: HashSet<&str> = since.projects.iter().map(String::as_str).collect();
        if !since.tenants.is_empty() {
            for p in &self.projects.rows {
                if since.tenants.contains(&p.tenant) {
                    projects.insert(&p.id);
                }
            }
        }
        let rows = projects.len()
            + since.removed_projects.len()
            + since.keys.len()
            + since.removed_keys.len();
        let limit = DELTA_MIN_ROWS.max((self.projects.rows.len() + self.api_keys.rows.len()) / 16);
        if rows > limit {
            return None;
        }
        let projects: Vec<Project> = projects
            .into_iter()
            .filter_map(|id| self.projects.get(id).cloned())
            .collect();
        let mut tenants: Vec<Tenant> = Vec::new();
        let mut named = HashSet::new();
        for p in &projects {
            if let Some(plan) = self
                .tenants
                .get(&p.tenant)
                .filter(|_| named.insert(&p.tenant))
            {
                tenants.push(Tenant {
                    id: p.tenant.clone(),
                    plan: *plan,
                });
            }
        }
        Some(Delta {
            base: *base,
            version,
            tenants,
            projects,
            removed_projects: since.removed_projects.iter().cloned().collect(),
            api_keys: since
                .keys
                .iter()
                .filter_map(|id| self.api_keys.get(id).cloned())
                .collect(),
            removed_keys: since.removed_keys.iter().copied().collect(),
        })
    }

    /// A full snapshot of version `version` with `globals` went out: it is the base of the
    /// deltas from now on.
    pub fn based_on(&mut self, version: u64, globals: Globals) {
        self.base = Some((version, globals));
        self.since = Since {
            on: true,
            ..Since::default()
        };
    }

    /// The version of the base, if deltas can be built.
    pub fn base_version(&self) -> Option<u64> {
        self.base.as_ref().map(|b| b.0)
    }

    /// Build the next snapshot full (a data plane could not take a delta of this base).
    pub fn forget_base(&mut self) {
        self.base = None;
        self.since = Since::default();
    }

    /// The parts of one snapshot. The projects and the Warden keys are lent, not copied (a
    /// million keys took a few hundred milliseconds to copy): give them back once encoded.
    pub fn parts(&mut self) -> Parts {
        Parts {
            tenants: self
                .tenants
                .iter()
                .map(|(id, plan)| Tenant {
                    id: id.clone(),
                    plan: *plan,
                })
                .collect(),
            projects: std::mem::take(&mut self.projects.rows),
            pooled_keys: self.pooled_keys(),
            api_keys: std::mem::take(&mut self.api_keys.rows),
        }
    }

    /// The operator's pooled keys, in order.
    pub fn pooled_keys(&self) -> Vec<ProviderKey> {
        self.pooled.iter().map(|(_, k)| k.clone()).collect()
    }

    /// Take back what [`Mirror::parts`] lent, from the snapshot built with it.
    pub fn give_back(&mut self, projects: Vec<Project>, api_keys: Vec<ApiKeyEntry>) {
        self.projects.rows = projects;
        self.api_keys.rows = api_keys;
    }
}
